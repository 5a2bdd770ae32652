package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cli"
)

// TestAsyncAPIDescribesThePluginEventsOfThisBinary checks `gatehouse-plugin
// asyncapi` on this example against a golden file (go test ./examples/plugin
// -update rewrites it): shout is typed from its schema guard, and its
// refusals may carry any code, since blocklist and shout are plugins.
func TestAsyncAPIDescribesThePluginEventsOfThisBinary(t *testing.T) {
	const secret = "plugin-golden-jwt-secret"
	t.Setenv("JWT_SECRET", secret)
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), []string{"asyncapi", "--config", "gateway.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), secret) {
		t.Fatalf("the document shows the JWT secret:\n%s", stdout.String())
	}
	golden := filepath.Join("testdata", "asyncapi.json.golden")
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
}
