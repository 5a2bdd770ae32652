package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

func TestSchemaListsEveryRegisteredGuardAndHandlerAndAcceptsGatewayYAML(t *testing.T) {
	code, stdout, stderr := runMain(t, context.Background(), "schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(stdout)))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	defs := doc.(map[string]any)["$defs"].(map[string]any)
	for kind, names := range map[string][]string{"guard": guards.Default().Names(), "handler": handlers.Default().Names()} {
		if len(names) == 0 {
			t.Fatalf("no %s types registered", kind)
		}
		props := defs[kind].(map[string]any)["properties"].(map[string]any)
		for _, name := range names {
			if _, ok := props[name]; !ok {
				t.Errorf("%s type %q is registered but not in the schema", kind, name)
			}
		}
	}

	// A type that declares its options has each of them in its entry.
	guardSpecs, handlerSpecs := pluginSpecs()
	for _, spec := range append(guardSpecs, handlerSpecs...) {
		if spec.Options == nil {
			continue
		}
		entry, _ := json.Marshal(defs[spec.Kind].(map[string]any)["properties"].(map[string]any)[spec.Name])
		for i := range spec.Options.NumField() {
			name, _, _ := strings.Cut(spec.Options.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" && !strings.Contains(string(entry), `"`+name+`":`) {
				t.Errorf("%s %q: option %q missing from the schema", spec.Kind, spec.Name, name)
			}
		}
	}

	c := jsonschema.NewCompiler()
	if err := c.AddResource("gateway.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("gateway.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	data, err := os.ReadFile("../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(cfg); err != nil {
		t.Errorf("gateway.yaml does not validate: %v", err)
	}
}

// TestEveryReservedEventNameIsRefusedByValidateAndTheSchema declares each
// reserved name as an event: gatehouse validate and the schema both refuse it.
func TestEveryReservedEventNameIsRefusedByValidateAndTheSchema(t *testing.T) {
	_, stdout, _ := runMain(t, context.Background(), "schema")
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(stdout)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("gateway.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("gateway.json")
	if err != nil {
		t.Fatal(err)
	}
	names := gatewayconfig.ReservedEventNames()
	for _, want := range []string{"connect", "disconnect", "exception", "auth:refresh", "auth:expiring"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q is not reserved", want)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			body := "namespaces:\n  /chat:\n    events:\n      \"" + name + "\":\n        handler: {reply: {}}\n"
			path := writeConfig(t, body)
			if code, stdout, _ := runMain(t, context.Background(), "validate", "--config", path); code == 0 {
				t.Errorf("validate accepted event %q: %s", name, stdout)
			}
			var v any
			if err := yaml.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err == nil {
				t.Errorf("the schema accepted event %q", name)
			}
		})
	}
}
