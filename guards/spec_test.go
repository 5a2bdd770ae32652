package guards_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
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
	specs := guards.Default().PluginSpecs()
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
	reg := guards.NewRegistry()
	var got options
	guards.DefineIn(reg, "limited", guards.Spec{Doc: "A test guard.", Shorthand: "limit"}, func(opts config.Options, o options) (guards.Guard, error) {
		got = o
		if o.Limit > 10 {
			return nil, opts.FieldError("limit", "limited: at most 10")
		}
		return guards.GuardFunc(nil), nil
	})
	factory, _ := reg.Lookup("limited")
	if _, err := factory(gatehousetest.Options(t, "7", nil)); err != nil || got.Limit != 7 {
		t.Fatalf("shorthand 7: options %+v, error %v", got, err)
	}
	_, err := factory(gatehousetest.Options(t, "{limit: 11}", nil))
	if err == nil || err.Error() != "gateway.yaml:1:18: limited: at most 10" {
		t.Errorf("error = %v, want it at the limit's value", err)
	}
	_, err = factory(gatehousetest.Options(t, "{limt: 1}", nil))
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:1:11: unknown key") {
		t.Errorf("error = %v, want the unknown key positioned", err)
	}
	if s := reg.Spec("limited"); s.Options != reflect.TypeFor[options]() {
		t.Errorf("spec options = %v", s.Options)
	}
}
