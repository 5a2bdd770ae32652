package handlers_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/handlers"
)

func TestEveryBuiltinHandlerDeclaresItsOptions(t *testing.T) {
	names := []string{"broadcast", "emit", "history", "join", "leave", "presence", "publish", "reply", "webhook"}
	specs := handlers.Default().PluginSpecs()
	if len(specs) != len(names) {
		t.Fatalf("%d specs, want %d: %+v", len(specs), len(names), specs)
	}
	for i, s := range specs {
		if s.Name != names[i] || s.Kind != "handler" || s.Doc == "" || s.Options == nil {
			t.Errorf("spec %d = %+v, want %s with a doc and an options struct", i, s, names[i])
			continue
		}
		for j := 0; j < s.Options.NumField(); j++ {
			if f := s.Options.Field(j); f.Tag.Get("yaml") == "" || f.Tag.Get("doc") == "" {
				t.Errorf("%s: option %s lacks a yaml name or a doc", s.Name, f.Name)
			}
		}
	}
}
