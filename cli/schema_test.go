package cli

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
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
