package explain

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

// secretEnv are values of secret variables that must never appear in the
// output.
var secretEnv = map[string]string{
	"JWT_SECRET":    "golden-jwt-secret-value",
	"BACKEND_TOKEN": "golden-backend-token-value",
}

func lookupEnv(name string) (string, bool) {
	v, ok := secretEnv[name]
	return v, ok
}

func explainFile(t *testing.T, path string) *Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gatewayconfig.Parse(path, data, lookupEnv)
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
	cfg, err := gatewayconfig.Parse("inline.yaml", []byte(yaml), lookupEnv)
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
