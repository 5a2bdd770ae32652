package explain_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// shippedEnv are the variables the shipped configs read, set to fixed
// values. Secret ones, and the secret parts of the others (a URL's password
// and query), must never appear in the output.
var shippedEnv = map[string]string{
	"JWT_SECRET":    "golden-jwt-secret-value",
	"API_KEY":       "golden-api-key-value",
	"BACKEND_TOKEN": "golden-backend-token-value",
	"REDIS_URL":     "redis://:golden-redis-password@127.0.0.1:6379/0?client_name=golden-query-value",
	"BACKEND_URL":   "http://127.0.0.1:9090/events?sig=golden-url-query-value",
	"REDIS_PREFIX":  "golden",
}

var secretValues = []string{
	"golden-jwt-secret-value", "golden-api-key-value", "golden-backend-token-value",
	"golden-redis-password", "golden-query-value", "golden-url-query-value",
}

// shipped are the configs of the repository that explain is checked on;
// examples/plugin is checked by its own binary's test.
var shipped = []struct{ name, path string }{
	{"gateway", "../../gateway.yaml"},
	{"chat", "../../examples/chat/gateway.yaml"},
	{"cluster", "../../examples/cluster/gateway.yaml"},
	{"conformance", "../../examples/conformance/gateway.yaml"},
	{"webhook", "../../examples/webhook/gateway.yaml"},
	{"authorizer", "../../examples/authorizer/gateway.yaml"},
}

// explainCommand runs `gatehouse explain` in-process, as the binary does.
func explainCommand(t *testing.T, path, format string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"explain", "--config", path, "--format", format}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("gatehouse explain --config %s: exit code %d: %s", path, code, stderr.String())
	}
	return stdout.Bytes()
}

func setShippedEnv(t *testing.T) {
	for k, v := range shippedEnv {
		t.Setenv(k, v)
	}
}

func TestExplainMatchesGoldenFilesOfShippedConfigs(t *testing.T) {
	setShippedEnv(t)
	for _, c := range shipped {
		for _, format := range []string{"text", "json"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				got := explainCommand(t, c.path, format)
				golden := filepath.Join("testdata", c.name+"."+format+".golden")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/explain -update to write it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the output; run with -update and review the diff.\n--- got ---\n%s", golden, got)
				}
			})
		}
	}
}

func TestExplainNeverShowsASecretValue(t *testing.T) {
	setShippedEnv(t)
	for _, c := range shipped {
		for _, format := range []string{"text", "json"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				out := explainCommand(t, c.path, format)
				for _, s := range secretValues {
					if bytes.Contains(out, []byte(s)) {
						t.Errorf("output shows the secret %q:\n%s", s, out)
					}
				}
			})
		}
	}
}
