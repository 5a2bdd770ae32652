package expr

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// interpreted evaluates p with CEL, bypassing its shortcut.
func interpreted(t *testing.T, p *Program, vars Vars) any {
	t.Helper()
	out, err := p.eval(context.Background(), &vars)
	if err != nil {
		t.Fatalf("%s: %v", p.Source(), err)
	}
	v, err := toJSON(out)
	if err != nil {
		t.Fatalf("%s: %v", p.Source(), err)
	}
	return v
}

func TestShortcutsGiveWhatCELGives(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		payload   string
		shortcut  bool
		claimless bool
	}{
		{name: "bare user", src: "user", shortcut: true},
		{name: "bare user without claims", src: "user", shortcut: true, claimless: true},
		{name: "bare data object", src: "data", payload: `{"a": [1, 2.5, "x", null, {"b": true}]}`, shortcut: true},
		{name: "bare data null", src: "data", payload: `null`, shortcut: true},
		{name: "constant map", src: `{"ok": true, "n": 2, "list": [1, "a"]}`, shortcut: true},
		{name: "constant arithmetic", src: `1 + 2`, shortcut: true},
		{name: "constant string", src: `"hello"`, shortcut: true},
		{name: "field of user", src: "user.sub", shortcut: false},
		{name: "map reading data", src: `{"room": data.room}`, payload: `{"room": "r"}`, shortcut: false},
		{name: "short-circuit without variables is constant", src: `true || 1 / 0 == 1`, shortcut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			vars := chatVars(t, tt.payload)
			if tt.claimless {
				vars.User = nil
			}
			fast, ok := p.fast(&vars)
			if ok != tt.shortcut {
				t.Fatalf("shortcut taken = %v, want %v", ok, tt.shortcut)
			}
			want := interpreted(t, p, vars)
			got, err := p.Eval(context.Background(), vars)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Eval = %#v, CEL gives %#v", got, want)
			}
			if ok && !reflect.DeepEqual(fast, want) {
				t.Errorf("shortcut = %#v, CEL gives %#v", fast, want)
			}
		})
	}
}

func TestShortcutResultsAreFreshCopies(t *testing.T) {
	for _, src := range []string{"user", `{"ok": true, "nested": {"a": 1}}`} {
		p, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		vars := chatVars(t, "")
		first, err := p.Eval(context.Background(), vars)
		if err != nil {
			t.Fatal(err)
		}
		m := first.(map[string]any)
		m["changed"] = true
		if nested, ok := m["nested"].(map[string]any); ok {
			nested["a"] = "changed"
		}
		second, err := p.Eval(context.Background(), vars)
		if err != nil {
			t.Fatal(err)
		}
		if _, changed := second.(map[string]any)["changed"]; changed {
			t.Errorf("%s: a change to one result shows in the next", src)
		}
		if nested, ok := second.(map[string]any)["nested"].(map[string]any); ok && nested["a"] != int64(1) {
			t.Errorf("%s: a change to a nested value shows in the next result: %v", src, nested["a"])
		}
		if _, changed := vars.User["changed"]; changed {
			t.Errorf("%s: the result shares the claims map", src)
		}
	}
}

func TestShortcutFallsBackOnValuesCELConverts(t *testing.T) {
	p, err := Compile("data")
	if err != nil {
		t.Fatal(err)
	}
	// A Go int and a json.Number are not what toJSON produces; CEL converts
	// them, so the shortcut must step aside.
	for _, data := range []any{map[string]any{"n": 3}, []any{json.Number("4")}} {
		vars := Vars{Data: data}
		if _, ok := p.fast(&vars); ok {
			t.Errorf("shortcut taken for %#v", data)
		}
	}
}

func BenchmarkEvalBareUser(b *testing.B) {
	p, err := Compile("user")
	if err != nil {
		b.Fatal(err)
	}
	vars := Vars{User: map[string]any{"sub": "alice", "username": "Alice", "role": "admin", "exp": 1.9e9}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(ctx, vars); err != nil {
			b.Fatal(err)
		}
	}
}
