package cli

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

// schemaCommand prints the JSON Schema of gateway.yaml, with every guard and
// handler type registered in this binary, for editors and validators.
func schemaCommand(_ context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "schema", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	out, err := schema.Generate(pluginSpecs())
	if err != nil {
		return fmt.Errorf("generate schema: %w", err)
	}
	_, err = env.stdout.Write(out)
	return err
}

// pluginSpecs lists the guard and handler types registered in this binary
// with the specs they were registered with (guards.Define): a type
// registered without an options struct accepts any value.
func pluginSpecs() (guardSpecs, handlerSpecs []schema.PluginSpec) {
	return guards.Default().PluginSpecs(), handlers.Default().PluginSpecs()
}
