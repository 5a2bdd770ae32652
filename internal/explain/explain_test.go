package explain

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// secretEnv are the variables the shipped configs read, set to fixed values
// that must never appear in the output.
var secretEnv = map[string]string{
	"JWT_SECRET":    "golden-jwt-secret-value",
	"API_KEY":       "golden-api-key-value",
	"BACKEND_TOKEN": "golden-backend-token-value",
	"REDIS_URL":     "redis://:golden-redis-password@127.0.0.1:6379/0?client_name=golden-query-value",
}

// plainEnv are variables whose values are not secret and may be shown.
var plainEnv = map[string]string{
	"BACKEND_URL":  "http://127.0.0.1:9090/events?sig=golden-url-query-value",
	"REDIS_PREFIX": "golden",
}

func lookupEnv(name string) (string, bool) {
	if v, ok := secretEnv[name]; ok {
		return v, true
	}
	v, ok := plainEnv[name]
	return v, ok
}

// shipped are the configs of the repository that explain is checked on.
// examples/plugin needs its own binary's registries and is left out.
var shipped = []struct{ name, path string }{
	{"gateway", "../../gateway.yaml"},
	{"chat", "../../examples/chat/gateway.yaml"},
	{"cluster", "../../examples/cluster/gateway.yaml"},
	{"conformance", "../../examples/conformance/gateway.yaml"},
	{"webhook", "../../examples/webhook/gateway.yaml"},
}

func explainFile(t *testing.T, path string) *Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data, lookupEnv)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	r, err := Explain(context.Background(), cfg, data, gateway.Options{})
	if err != nil {
		t.Fatalf("explain %s: %v", path, err)
	}
	return r
}

func render(t *testing.T, r *Report) (text, json []byte) {
	t.Helper()
	var tb, jb bytes.Buffer
	if err := r.WriteText(&tb); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	return tb.Bytes(), jb.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s ./internal/explain -update to write it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run with -update and review the diff.\n--- got ---\n%s", path, got)
	}
}

func TestExplainMatchesGoldenFilesOfShippedConfigs(t *testing.T) {
	for _, c := range shipped {
		t.Run(c.name, func(t *testing.T) {
			text, json := render(t, explainFile(t, c.path))
			checkGolden(t, c.name+".golden", text)
			checkGolden(t, c.name+".json.golden", json)
		})
	}
}

func TestExplainNeverShowsASecretValue(t *testing.T) {
	secrets := []string{"golden-redis-password", "golden-query-value", "golden-url-query-value"}
	for _, v := range secretEnv {
		secrets = append(secrets, v)
	}
	for _, c := range shipped {
		t.Run(c.name, func(t *testing.T) {
			text, json := render(t, explainFile(t, c.path))
			for _, out := range [][]byte{text, json} {
				for _, s := range secrets {
					if bytes.Contains(out, []byte(s)) {
						t.Errorf("output shows the secret %q:\n%s", s, out)
					}
				}
			}
		})
	}
}

func TestExplainMasksSecretOptionsOfAnyGuardOrHandler(t *testing.T) {
	const yaml = `
auth:
  jwt: {secret: "${JWT_SECRET}", algorithms: [HS256]}
namespaces:
  /n:
    events:
      hook:
        handler:
          webhook:
            url: https://user:golden-userinfo-password@backend.example/hook?key=golden-url-key
            headers:
              X-Plain-Looking: golden-header-value
              Authorization: Bearer ${BACKEND_TOKEN}
`
	cfg, err := config.Parse("inline.yaml", []byte(yaml), lookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Explain(context.Background(), cfg, []byte(yaml), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	text, json := render(t, r)
	for _, out := range [][]byte{text, json} {
		for _, s := range []string{"golden-userinfo-password", "golden-url-key", "golden-header-value", secretEnv["BACKEND_TOKEN"], secretEnv["JWT_SECRET"]} {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("output shows the secret %q:\n%s", s, out)
			}
		}
		if !bytes.Contains(out, []byte("backend.example/hook")) {
			t.Errorf("output hides the webhook's host and path, which are not secret:\n%s", out)
		}
	}
}

func TestSelectKeepsTheNamedNamespaceAndEvent(t *testing.T) {
	tests := []struct {
		namespace, event string
		wantEvents       []string
		wantErr          string
	}{
		{"/chat", "", []string{"sendMessage", "join", "leave", "sendToRoom", "whoami", "announce"}, ""},
		{"/chat", "join", []string{"join"}, ""},
		{"/chta", "", nil, `did you mean "/chat"`},
		{"/chat", "jion", nil, `did you mean "join"`},
	}
	for _, tt := range tests {
		t.Run(tt.namespace+" "+tt.event, func(t *testing.T) {
			r := explainFile(t, "../../gateway.yaml")
			err := r.Select(tt.namespace, tt.event)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Select error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Namespaces) != 1 || r.Namespaces[0].Name != tt.namespace {
				t.Fatalf("namespaces = %+v, want only %s", r.Namespaces, tt.namespace)
			}
			if got := eventNames(r.Namespaces[0]); strings.Join(got, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("events = %v, want %v", got, tt.wantEvents)
			}
		})
	}
}

// rateLimitSpec stands for the options spec a guard type declares: a
// struct with yaml names and default tags.
type rateLimitSpec struct {
	Key   string  `yaml:"key" default:"socket"`
	Rate  float64 `yaml:"rate"`
	Per   string  `yaml:"per" default:"1s"`
	Store string  `yaml:"store" default:"memory"`
	Retry struct {
		After string `yaml:"after" default:"100ms"`
	} `yaml:"retry"`
}

func TestFillDefaultsAddsTheDeclaredDefaultsOfKeysNotWritten(t *testing.T) {
	r := explainFile(t, "../../gateway.yaml")
	r.FillDefaults([]schema.PluginSpec{{Kind: "guard", Name: "rate_limit", Options: reflect.TypeFor[rateLimitSpec]()}}, nil)
	if err := r.Select("/chat", "sendMessage"); err != nil {
		t.Fatal(err)
	}
	step := r.Namespaces[0].Events[0].Steps[0]
	if step.Type != "rate_limit" {
		t.Fatalf("first step is %s, want the rate_limit guard", step.Type)
	}
	if got := flow(step.Options); got != "{key: user, rate: 10, per: 1s, burst: 20, store: memory}" {
		t.Errorf("options = %s, want the written ones then store: memory", got)
	}
	if strings.Join(step.Defaults, ",") != "store" {
		t.Errorf("defaults = %v, want [store]: key and per are written, retry is not and is a struct without its own default", step.Defaults)
	}
	if schemaStep := r.Namespaces[0].Events[0].Steps[1]; len(schemaStep.Defaults) != 0 {
		t.Errorf("a type without a spec got defaults %v", schemaStep.Defaults)
	}
}
