package schema_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

// TestDocsConfigTablesMatchTheConfigTypesAndPlugins regenerates the tables
// of docs/config.md from the config types and the built-in guards' and
// handlers' options, and fails on the first line the file differs at. It
// sits in an external test package because guards and handlers import
// schema.
func TestDocsConfigTablesMatchTheConfigTypesAndPlugins(t *testing.T) {
	const file = "../../docs/config.md"
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := schema.UpdateDocs(text, guards.Default().PluginSpecs(), handlers.Default().PluginSpecs())
	if err != nil {
		t.Fatalf("%s: %v; run make docs", file, err)
	}
	if string(want) != string(text) {
		got, gen := strings.Split(string(text), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(got), len(gen)) {
			if got[i] != gen[i] {
				t.Fatalf("%s:%d differs from what the config types and the plugins' options give; run make docs.\nfile:      %s\ngenerated: %s", file, i+1, got[i], gen[i])
			}
		}
		t.Fatalf("%s differs from what the config types and the plugins' options give (%d lines, %d generated); run make docs", file, len(got), len(gen))
	}
}
