// Command gendocs rewrites the generated reference tables of the Markdown
// files named on its command line (docs/config.md) from the config types and
// the options of the built-in guards and handlers; `make docs` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

func main() {
	for _, path := range os.Args[1:] {
		if err := rewrite(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func rewrite(path string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := schema.UpdateDocs(text, guards.Default().PluginSpecs(), handlers.Default().PluginSpecs())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
