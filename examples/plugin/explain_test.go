package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestExplainShowsThePluginTypesOfThisBinary checks `gatehouse-plugin
// explain` on this example against golden files: the plugin binary
// describes its own guard and handler types, built from gateway.yaml.
func TestExplainShowsThePluginTypesOfThisBinary(t *testing.T) {
	const secret = "plugin-golden-jwt-secret"
	t.Setenv("JWT_SECRET", secret)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main(context.Background(), []string{"explain", "--config", "gateway.yaml", "--format", format}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit code %d: %s", code, stderr.String())
			}
			if strings.Contains(stdout.String(), secret) {
				t.Fatalf("output shows the JWT secret:\n%s", stdout.String())
			}
			golden := filepath.Join("testdata", "explain."+format+".golden")
			if *update {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./examples/plugin -update to write it)", err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Errorf("%s differs from the output; run with -update and review the diff.\n--- got ---\n%s", golden, stdout.String())
			}
		})
	}
}
