package tsgen

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGeneratedTypesMatchGoldenFiles generates the types of the default
// gateway.yaml and of every example and compares them with the files
// under testdata/ (go test -run Golden ./internal/tsgen -update rewrites them).
func TestGeneratedTypesMatchGoldenFiles(t *testing.T) {
	for name, value := range map[string]string{
		"JWT_SECRET": "golden-secret", "API_KEY": "golden-key", "REDIS_URL": "redis://127.0.0.1:6379/0",
		"REDIS_PREFIX": "golden", "BACKEND_URL": "http://127.0.0.1:9090/events", "BACKEND_TOKEN": "golden-token",
	} {
		t.Setenv(name, value)
	}
	configs := map[string]string{"gateway": "../../gateway.yaml"}
	examples, err := filepath.Glob("../../examples/*/gateway.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, path := range examples {
		configs["example-"+filepath.Base(filepath.Dir(path))] = path
	}
	for name, path := range configs {
		t.Run(name, func(t *testing.T) {
			cfg, err := gatewayconfig.Load(path)
			if err != nil {
				t.Fatalf("load %s: %v", path, err)
			}
			got, err := Generate(cfg)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			golden := filepath.Join("testdata", name+".ts")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("types of %s differ from %s (run with -update after checking):\n%s", path, golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff lists the lines of want missing from got and the reverse.
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	wantLines, gotLines := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !gotLines[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !wantLines[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
