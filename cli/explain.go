package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/explain"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// explainCommand prints the chains the gateway builds from a config, for
// every namespace or for the one (and the event) named.
func explainCommand(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "explain", "[--config gateway.yaml] [--format text|json] [NAMESPACE [EVENT]]")
	configPath := fs.String("config", defaultConfigPath, "config file")
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	// Flags may also follow the namespace and event.
	positional, err := interleavedArgs(fs)
	if err != nil {
		return err
	}
	if len(positional) > 2 {
		return usageError{fmt.Sprintf("unexpected argument %q", positional[2])}
	}
	if *format != "text" && *format != "json" {
		return usageError{fmt.Sprintf("--format: expected text or json, got %q", *format)}
	}
	report, err := explainFile(ctx, *configPath)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		event := ""
		if len(positional) == 2 {
			event = positional[1]
		}
		if err := report.Select(positional[0], event); err != nil {
			return err
		}
	}
	if *format == "json" {
		return report.WriteJSON(env.stdout)
	}
	return report.WriteText(env.stdout)
}

// explainFile loads the config and describes what the gateway builds of it.
func explainFile(ctx context.Context, path string) (*explain.Report, error) {
	_, report, err := loadExplained(ctx, path)
	return report, err
}

// loadExplained loads the config and describes what the gateway builds of
// it, returning both.
func loadExplained(ctx context.Context, path string) (*gatewayconfig.Config, *explain.Report, error) {
	cfg, err := gatewayconfig.Load(path)
	if err != nil {
		return nil, nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("explain: %w", err)
	}
	report, err := explain.Explain(ctx, cfg, raw, gateway.Options{})
	if err != nil {
		return nil, nil, err
	}
	report.FillDefaults(pluginSpecs())
	return cfg, report, nil
}

// interleavedArgs returns the positional arguments of fs, parsing the flags
// written after them as flags too.
func interleavedArgs(fs *flag.FlagSet) ([]string, error) {
	var positional []string
	rest := fs.Args()
	for len(rest) > 0 {
		positional = append(positional, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, parseError(err)
		}
		rest = fs.Args()
	}
	return positional, nil
}

// parseError turns a flag parsing error into a usage error, keeping --help.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}
