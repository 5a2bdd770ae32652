package asyncapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// shippedEnv are the variables the shipped configs read. The secret ones
// must never appear in the document.
var shippedEnv = map[string]string{
	"JWT_SECRET":    "golden-jwt-secret-value",
	"API_KEY":       "golden-api-key-value",
	"BACKEND_TOKEN": "golden-backend-token-value",
	"REDIS_URL":     "redis://:golden-redis-password@127.0.0.1:6379/0",
	"BACKEND_URL":   "http://127.0.0.1:9090/events?sig=golden-url-query-value",
	"REDIS_PREFIX":  "golden",
}

var secretValues = []string{"golden-jwt-secret-value", "golden-api-key-value", "golden-backend-token-value", "golden-redis-password", "golden-url-query-value"}

// shipped are the configs of the repository; examples/plugin, whose types
// only its own binary registers, is checked by that example's test.
var shipped = []struct{ name, path string }{
	{"gateway", "../../gateway.yaml"},
	{"chat", "../../examples/chat/gateway.yaml"},
	{"cluster", "../../examples/cluster/gateway.yaml"},
	{"conformance", "../../examples/conformance/gateway.yaml"},
	{"webhook", "../../examples/webhook/gateway.yaml"},
}

// asyncapiCommand runs `gatehouse asyncapi` in-process, as the binary does.
func asyncapiCommand(t *testing.T, path string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), []string{"asyncapi", "--config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("gatehouse asyncapi --config %s: exit code %d: %s", path, code, stderr.String())
	}
	return stdout.Bytes()
}

func TestAsyncAPIDocumentsOfShippedConfigsMatchGoldenFiles(t *testing.T) {
	for k, v := range shippedEnv {
		t.Setenv(k, v)
	}
	for _, c := range shipped {
		t.Run(c.name, func(t *testing.T) {
			got := asyncapiCommand(t, c.path)
			for _, s := range secretValues {
				if bytes.Contains(got, []byte(s)) {
					t.Errorf("the document shows the secret %q", s)
				}
			}
			golden := filepath.Join("testdata", c.name+".json.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/asyncapi -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the output; run with -update and review the diff.\n--- got ---\n%s", golden, got)
			}
		})
	}
}

// TestEveryReferenceOfTheDocumentResolves follows each $ref of each
// shipped document, and checks that each operation's messages, and its
// reply's, are messages of its channel and of its reply's channel, as
// AsyncAPI 3.0 requires and its JSON Schema cannot check.
func TestEveryReferenceOfTheDocumentResolves(t *testing.T) {
	for k, v := range shippedEnv {
		t.Setenv(k, v)
	}
	for _, c := range shipped {
		t.Run(c.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(asyncapiCommand(t, c.path), &doc); err != nil {
				t.Fatal(err)
			}
			refs := 0
			walk(doc, func(ref string) {
				refs++
				if _, ok := resolve(doc, ref); !ok {
					t.Errorf("$ref %q does not resolve", ref)
				}
			})
			if refs == 0 {
				t.Fatal("no $ref found")
			}
			for name, raw := range doc["operations"].(map[string]any) {
				op := raw.(map[string]any)
				channel := op["channel"].(map[string]any)["$ref"].(string)
				for _, m := range op["messages"].([]any) {
					if ref := m.(map[string]any)["$ref"].(string); !strings.HasPrefix(ref, channel+"/messages/") {
						t.Errorf("operation %s: message %s is not one of its channel %s", name, ref, channel)
					}
				}
				reply, ok := op["reply"].(map[string]any)
				if !ok {
					continue
				}
				replyChannel := reply["channel"].(map[string]any)["$ref"].(string)
				for _, m := range reply["messages"].([]any) {
					if ref := m.(map[string]any)["$ref"].(string); !strings.HasPrefix(ref, replyChannel+"/messages/") {
						t.Errorf("operation %s: reply message %s is not one of its reply channel %s", name, ref, replyChannel)
					}
				}
			}
		})
	}
}

// walk calls f with every $ref in v.
func walk(v any, f func(string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok && k == "$ref" {
				f(s)
				continue
			}
			walk(e, f)
		}
	case []any:
		for _, e := range t {
			walk(e, f)
		}
	}
}

// resolve follows a local JSON pointer reference in doc.
func resolve(doc any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	v := doc
	for _, token := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		token = strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[token]; !ok {
			return nil, false
		}
	}
	return v, true
}
