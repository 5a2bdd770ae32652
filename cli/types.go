package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/tsgen"
)

// typesCommand prints the client types of a config: for now TypeScript for
// socket.io-client, the one language asked for.
func typesCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "types", "--lang ts [--config gateway.yaml] [-o FILE]")
	configPath := fs.String("config", defaultConfigPath, "config file")
	lang := fs.String("lang", "ts", "language of the types: ts (TypeScript for socket.io-client)")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lang != "ts" {
		return usageError{fmt.Sprintf("--lang %q: only ts is supported", *lang)}
	}
	// The config must be one the gateway would run: types of a config that
	// does not build would describe a gateway that never serves.
	cfg, err := gatewayconfig.Load(*configPath)
	if err != nil {
		return err
	}
	if err := gateway.Check(ctx, cfg, gateway.Options{}); err != nil {
		return err
	}
	ts, err := tsgen.Generate(cfg)
	if err != nil {
		return fmt.Errorf("generating types for %s: %w", *configPath, err)
	}
	if *out == "" {
		_, err = env.stdout.Write(ts)
		return err
	}
	if err := os.WriteFile(*out, ts, 0o644); err != nil {
		return fmt.Errorf("writing types: %w", err)
	}
	return nil
}
