package expr

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

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
		{name: "field of user", src: "user.sub", shortcut: true},
		{name: "numeric claim", src: "user.level", shortcut: true},
		{name: "map reading data", src: `{"room": data.room}`, payload: `{"room": "r"}`, shortcut: true},
		{name: "nested data field", src: `data.a.b`, payload: `{"a": {"b": [1, {"c": null}]}}`, shortcut: true},
		{name: "null data field", src: `{"x": data.x}`, payload: `{"x": null}`, shortcut: true},
		{name: "optional claim present", src: `user.?username.orValue("")`, shortcut: true},
		{name: "optional claim absent", src: `user.?nickname.orValue("anon")`, shortcut: true},
		{name: "optional claim absent without claims", src: `user.?username.orValue("")`, shortcut: true, claimless: true},
		{name: "optional with a numeric fallback", src: `data.?n.orValue(0)`, payload: `{}`, shortcut: true},
		{name: "chat message", src: `{"user": user.sub, "username": user.?username.orValue(""), "message": data.message}`,
			payload: `{"message": "hi <b>"}`, shortcut: true},
		{name: "socket and event fields", src: `{"id": socket.id, "ip": socket.ip, "ns": socket.namespace, "event": event, "nsp": namespace}`, shortcut: true},
		{name: "socket rooms go to CEL", src: `socket.rooms`, shortcut: false},
		{name: "missing key goes to CEL", src: `{"room": data.room}`, payload: `{"message": "x"}`, shortcut: false},
		{name: "field of a list goes to CEL", src: `data.room`, payload: `[1]`, shortcut: false},
		{name: "operator goes to CEL", src: `{"n": data.n + 1}`, payload: `{"n": 1}`, shortcut: false},
		{name: "presence test goes to CEL", src: `has(data.n)`, payload: `{"n": 1}`, shortcut: false},
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
			cel, celErr := p.eval(context.Background(), &vars)
			got, err := p.Eval(context.Background(), vars)
			if celErr != nil {
				// The shortcut must step aside and let CEL give its error.
				if err == nil || err.Error() != celErr.Error() {
					t.Fatalf("Eval error = %v, CEL gives %v", err, celErr)
				}
				return
			}
			want, err := toJSON(cel)
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

func TestShortcutReadsWithoutCopying(t *testing.T) {
	// Results are read-only (see Program.Eval): the claims an ack of `user`
	// encodes are the socket's own map, not a copy made per event.
	p, err := Compile("user")
	if err != nil {
		t.Fatal(err)
	}
	vars := chatVars(t, "")
	got, err := p.Eval(context.Background(), vars)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(vars.User).UnsafePointer() {
		t.Error("the result of `user` is a copy of the claims")
	}
}

func TestShortcutFallsBackOnValuesCELConverts(t *testing.T) {
	// A Go int and a json.Number are not what toJSON produces; CEL converts
	// them, so the shortcut must step aside, wherever they sit.
	for _, src := range []string{"data", `{"v": data.v}`, `data.?v.orValue(0)`} {
		p, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{3, []any{json.Number("4")}, map[string]any{"n": 3}} {
			vars := Vars{Data: map[string]any{"v": v}}
			if src == "data" {
				vars.Data = v
			}
			if _, ok := p.fast(&vars); ok {
				t.Errorf("%s: shortcut taken for %#v", src, v)
			}
		}
	}
}

func TestEvalWithoutLoopsIgnoresTheContext(t *testing.T) {
	// Only comprehensions look at the context; other expressions are
	// evaluated without deriving one, and give the same result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	vars := chatVars(t, `{"n": 2}`)
	p, err := Compile(`data.n + 1.0`)
	if err != nil {
		t.Fatal(err)
	}
	if p.interruptible {
		t.Fatal("an expression without a comprehension is marked interruptible")
	}
	if got, err := p.Eval(ctx, vars); err != nil || got != 3.0 {
		t.Fatalf("Eval = %v, %v; want 3", got, err)
	}
	loop, err := Compile(`[1, 2, 3].all(x, x > 0)`)
	if err != nil {
		t.Fatal(err)
	}
	if !loop.interruptible {
		t.Fatal("a comprehension is not marked interruptible")
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

func BenchmarkEvalChatMessage(b *testing.B) {
	p, err := Compile(`{"user": user.sub, "username": user.?username.orValue(""), "message": data.message}`)
	if err != nil {
		b.Fatal(err)
	}
	vars := Vars{
		User: map[string]any{"sub": "alice", "username": "Alice", "role": "admin", "exp": 1.9e9},
		Data: map[string]any{"message": "hello, everyone"},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(ctx, vars); err != nil {
			b.Fatal(err)
		}
	}
}
