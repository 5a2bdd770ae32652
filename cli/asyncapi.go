package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/asyncapi"
)

// asyncapiCommand prints the AsyncAPI 3.0 document of a config: its
// namespaces as channels, its events as messages with their payload
// schemas, acks and error codes, and the security schemes of its tokens.
func asyncapiCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "asyncapi", "[--config gateway.yaml] [-o FILE]")
	configPath := fs.String("config", defaultConfigPath, "config file")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// The document describes what the gateway builds: a config that does
	// not build has no gateway to describe.
	cfg, report, err := loadExplained(ctx, *configPath)
	if err != nil {
		return err
	}
	doc, err := asyncapi.Generate(cfg, report, Version())
	if err != nil {
		return fmt.Errorf("generating the AsyncAPI document of %s: %w", *configPath, err)
	}
	if *out == "" {
		_, err = env.stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		return fmt.Errorf("writing the AsyncAPI document: %w", err)
	}
	return nil
}
