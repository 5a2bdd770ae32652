package guards

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

func TestEveryBuiltinGuardDeclaresItsSpec(t *testing.T) {
	want := map[string]struct {
		options   bool // declared by a struct
		shorthand string
	}{
		"claims": {}, "schema": {},
		"expr":       {options: true, shorthand: "condition"},
		"max_size":   {options: true, shorthand: "limit"},
		"rate_limit": {options: true},
	}
	specs := Default().PluginSpecs()
	if len(specs) != len(want) {
		t.Fatalf("%d specs, want %d: %+v", len(specs), len(want), specs)
	}
	for _, s := range specs {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected guard %q", s.Name)
			continue
		}
		if s.Kind != "guard" || s.Doc == "" || s.Shorthand != w.shorthand || (s.Options != nil) != w.options {
			t.Errorf("%s: spec %+v", s.Name, s)
		}
		if s.Options == nil {
			continue
		}
		for i := 0; i < s.Options.NumField(); i++ {
			if f := s.Options.Field(i); f.Tag.Get("yaml") == "" || f.Tag.Get("doc") == "" {
				t.Errorf("%s: option %s lacks a yaml name or a doc", s.Name, f.Name)
			}
		}
	}
}

func TestDefineDecodesTheOptionsStructWithPositions(t *testing.T) {
	type options struct {
		Limit int `yaml:"limit" doc:"A limit."`
	}
	reg := NewRegistry()
	var got options
	DefineIn(reg, "limited", Spec{Doc: "A test guard.", Shorthand: "limit"}, func(opts config.Options, o options) (Guard, error) {
		got = o
		if o.Limit > 10 {
			return nil, opts.FieldError("limit", "limited: at most 10")
		}
		return GuardFunc(nil), nil
	})
	factory, _ := reg.Lookup("limited")
	if _, err := factory(testOptions(t, "7")); err != nil || got.Limit != 7 {
		t.Fatalf("shorthand 7: options %+v, error %v", got, err)
	}
	_, err := factory(testOptions(t, "{limit: 11}"))
	if err == nil || err.Error() != "gateway.yaml:1:18: limited: at most 10" {
		t.Errorf("error = %v, want it at the limit's value", err)
	}
	_, err = factory(testOptions(t, "{limt: 1}"))
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:1:11: unknown key") {
		t.Errorf("error = %v, want the unknown key positioned", err)
	}
	if s := reg.Spec("limited"); s.Options != reflect.TypeFor[options]() {
		t.Errorf("spec options = %v", s.Options)
	}
}

// testOptions are the options src written as `options: src` on line 1 of
// gateway.yaml.
func testOptions(t *testing.T, src string) config.Options {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("options: "+src+"\n"), &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0].Content[1]
	return gatewayconfig.NewOptions(n, config.Pos{File: "gateway.yaml", Line: n.Line, Column: n.Column})
}
