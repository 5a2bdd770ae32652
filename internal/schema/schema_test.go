package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/expr"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// builtinGuards and builtinHandlers name the built-in types; their options
// are not declared here, so any value is accepted for them.
var (
	builtinGuards   = []string{"claims", "expr", "max_size", "rate_limit", "schema"}
	builtinHandlers = []string{"broadcast", "emit", "history", "join", "leave", "presence", "publish", "reply", "webhook"}
)

// pluginBinaries are the types the binaries built for some configs add:
// examples/plugin's and e2e/faulty's.
var pluginBinaries = map[string]struct{ guards, handlers []string }{
	"plugin/gateway.yaml":  {[]string{"blocklist"}, []string{"shout"}},
	"fixtures/faulty.yaml": {[]string{"broken"}, []string{"panic"}},
}

// sampleOptions exercises every kind of option the walker knows.
type sampleOptions struct {
	Limit   gatewayconfig.Size     `yaml:"limit" doc:"The largest payload." default:"4KB"`
	Window  gatewayconfig.Duration `yaml:"window" doc:"The period." default:"1s"`
	When    expr.Expr              `yaml:"when" doc:"A CEL condition."`
	Mode    string                 `yaml:"mode" enum:"a,b" default:"a"`
	Count   int                    `yaml:"count" default:"3"`
	Enabled *bool                  `yaml:"enabled" default:"true"`
	Tags    []string               `yaml:"tags" default:"[x, y]"`
	Headers map[string]string      `yaml:"headers"`
	Custom  custom                 `yaml:"custom"`
	Nested  struct {
		Rate float64 `yaml:"rate"`
	} `yaml:"nested"`
}

// custom parses itself from a scalar.
type custom struct{ raw string }

func (c *custom) UnmarshalScalar(value string, _ gatewayconfig.Pos) error {
	c.raw = value
	return nil
}

func specs(kind string, names []string) []PluginSpec {
	out := make([]PluginSpec, len(names))
	for i, n := range names {
		out[i] = PluginSpec{Kind: kind, Name: n, Doc: "The " + n + " " + kind + "."}
	}
	return out
}

// testSpecs are the built-in types, a sample guard with declared options,
// and extra guard and handler types by name.
func testSpecs(extraGuards, extraHandlers []string) (guards, handlers []PluginSpec) {
	guards = append(specs("guard", append(slices.Clone(builtinGuards), extraGuards...)),
		PluginSpec{Kind: "guard", Name: "sample", Doc: "A sample guard.", Options: reflect.TypeFor[sampleOptions](), Shorthand: "limit"})
	return guards, specs("handler", append(slices.Clone(builtinHandlers), extraHandlers...))
}

// compile generates the schema for the built-in types and extra ones, and
// compiles it with a standard validator.
func compile(t *testing.T, extraGuards, extraHandlers []string) *jsonschema.Schema {
	t.Helper()
	out, err := Generate(testSpecs(extraGuards, extraHandlers))
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("gateway.json", doc); err != nil {
		t.Fatalf("AddResource: %v", err)
	}
	sch, err := c.Compile("gateway.json")
	if err != nil {
		t.Fatalf("the generated schema does not compile: %v", err)
	}
	return sch
}

// instance parses YAML text as the JSON value a YAML language server checks.
func instance(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	// A JSON round trip gives the validator JSON's own types.
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("to JSON: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("from JSON: %v", err)
	}
	return out
}

func TestGeneratedSchemaAcceptsEveryShippedConfig(t *testing.T) {
	files := []string{"../../gateway.yaml"}
	for _, glob := range []string{"../../examples/*/gateway.yaml", "../../e2e/fixtures/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 8 {
		t.Fatalf("found only %d configs: %v", len(files), files)
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			extra := pluginBinaries[name]
			sch := compile(t, extra.guards, extra.handlers)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(instance(t, string(data))); err != nil {
				t.Errorf("%s does not validate: %v", f, err)
			}
		})
	}
}

func TestGeneratedSchemaRefusesWhatTheLoaderRefuses(t *testing.T) {
	sch := compile(t, nil, nil)
	tests := []struct {
		name, yaml string
		ok         bool
	}{
		{"empty file", "", true},
		{"interpolated duration and number", "server:\n  ping_interval: ${PING}\n  send_queue: ${QUEUE:-256}\n", true},
		{"sizes and durations", "server:\n  max_payload: 512 KB\n  ping_timeout: 1m30s\n  shutdown_grace: 0\n", true},
		{"key with no value", "server:\n  listen:\n", true},
		{"misspelt key", "server:\n  ping_intervall: 25s\n", false},
		{"unknown top-level key", "servers: {}\n", false},
		{"duration without unit", "server:\n  ping_interval: 25\n", false},
		{"size with a bad unit", "server:\n  max_payload: 1XB\n", false},
		{"string for a number", "server:\n  send_queue: many\n", false},
		{"bool as a word", "server:\n  metrics: maybe\n", false},
		{"unknown transport", "server:\n  transports: [polling, carrier_pigeon]\n", false},
		{"unknown adapter kind", "adapter:\n  kind: etcd\n", false},
		{"guard of a known type", "guards:\n  g:\n    sample: {limit: 1MB, mode: b, when: 'size(payload) > 1'}\n", true},
		{"guard of an unknown type", "guards:\n  g:\n    rate_limitt: {}\n", false},
		{"guard with two types", "guards:\n  g:\n    expr: x\n    max_size: 1KB\n", false},
		{"guard option misspelt", "guards:\n  g:\n    sample: {limt: 1KB}\n", false},
		{"guard option of a wrong type", "guards:\n  g:\n    sample: {window: soon}\n", false},
		{"guard with no options", "guards:\n  g:\n    sample:\n", true},
		{"guard option that decodes itself", "guards:\n  g:\n    sample: {custom: x1}\n", true},
		{"guard option that parses a scalar, given a list", "guards:\n  g:\n    sample: {custom: [1, {a: b}]}\n", false},
		{"guard shorthand", "guards:\n  g:\n    sample: 4KB\n", true},
		{"guard shorthand of a wrong type", "guards:\n  g:\n    sample: lots\n", false},
		{"event with one handler", "namespaces:\n  /chat:\n    events:\n      msg:\n        handler: {broadcast: {}}\n", true},
		{"event with handlers", "namespaces:\n  /chat:\n    events:\n      msg:\n        handlers: [{reply: ok}, {broadcast: null}]\n", true},
		{"event with no handler", "namespaces:\n  /chat:\n    events:\n      msg:\n        guards: [g]\n", false},
		{"event with both", "namespaces:\n  /chat:\n    events:\n      msg:\n        handler: {reply: ok}\n        handlers: [{reply: ok}]\n", false},
		{"reserved event name", "namespaces:\n  /chat:\n    events:\n      disconnect:\n        handler: {reply: ok}\n", false},
		{"namespace without a slash", "namespaces:\n  chat: {}\n", false},
		{"namespace auth word", "namespaces:\n  /chat:\n    auth: sometimes\n", false},
		{"handler of an unknown type", "namespaces:\n  /chat:\n    on_connect: [{shoutt: {}}]\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.yaml, "sample") && !strings.Contains(tt.yaml, "/chat") && !strings.Contains(tt.yaml, "rate_limitt") {
				// Where no plugin type or options are involved (those are
				// checked when the gateway is built) the loader must agree.
				env := func(string) (string, bool) { return "25s", true }
				if _, lerr := gatewayconfig.Parse("gateway.yaml", []byte(tt.yaml), env); (lerr == nil) != tt.ok && !strings.Contains(tt.yaml, "QUEUE") {
					t.Errorf("the loader disagrees: %v", lerr)
				}
			}
			err := sch.Validate(instance(t, tt.yaml))
			if tt.ok && err != nil {
				t.Errorf("refused:\n%s\n%v", tt.yaml, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("accepted:\n%s", tt.yaml)
			}
		})
	}
}

func TestSchemaCarriesDocsDefaultsAndPluginOptions(t *testing.T) {
	doc, err := Document(testSpecs(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{
		`"$schema":"https://json-schema.org/draft/2020-12/schema"`,
		`"default":"25s","description":"How often the server pings a client."`,
		`"default":["polling","websocket"]`,
		`"description":"A sample guard."`,
		`"description":"The largest payload."`,
		`"default":"4KB"`,
		`"default":["x","y"]`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s", want)
		}
	}
	entry := doc["$defs"].(obj)["guard"].(obj)["properties"].(obj)
	for _, g := range append(builtinGuards, "sample") {
		if _, ok := entry[g]; !ok {
			t.Errorf("guard %q missing from the schema", g)
		}
	}
}
