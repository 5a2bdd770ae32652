package expr

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sockettest"
)

// binaryVars are the variables of an event whose arguments are the given
// JSON texts, with attachments.
func binaryVars(t *testing.T, attachments [][]byte, args ...string) Vars {
	t.Helper()
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	in := gatehouse.Args{Raw: raw, Attachments: attachments}
	s := sockettest.New(sockettest.Fields{ID: "sock1", Namespace: "/", Claims: gatehouse.Claims{"sub": "alice"}})
	vars, err := VarsFor(s, "message", gatehouse.NewPayload(in.First()))
	if err != nil {
		t.Fatalf("VarsFor: %v", err)
	}
	vars.WithArgs(&in)
	return vars
}

func TestExpressionsSeeBinaryAttachmentsAsBytes(t *testing.T) {
	one, two := []byte{1, 2, 3}, []byte{4, 5, 6}
	ph := func(n string) string { return `{"_placeholder":true,"num":` + n + `}` }
	tests := []struct {
		name        string
		src         string
		attachments [][]byte
		args        []string
		want        any
	}{
		{"data that is a placeholder is its bytes", "data", [][]byte{one}, []string{ph("0")}, one},
		{"a nested placeholder", "data.file", [][]byte{one}, []string{`{"file":` + ph("0") + `}`}, one},
		{"the whole payload with bytes inside", "data", [][]byte{one}, []string{`{"a":[` + ph("0") + `]}`}, map[string]any{"a": []any{one}}},
		{"bytes functions apply", "size(data.file)", [][]byte{one}, []string{`{"file":` + ph("0") + `}`}, int64(3)},
		{"a type check", "type(data) == bytes", [][]byte{one}, []string{ph("0")}, true},
		{"args lists every argument", "args", [][]byte{one, two}, []string{`1`, ph("0"), `{"x":` + ph("1") + `}`}, []any{1.0, one, map[string]any{"x": two}}},
		{"an argument by index", "args[1]", nil, []string{`"a"`, `"b"`}, "b"},
		{"args of an event without arguments", "size(args)", nil, nil, int64(0)},
		{"without attachments a placeholder is an object", "data", nil, []string{ph("0")}, map[string]any{"_placeholder": true, "num": 0.0}},
		{"a placeholder past the attachments stays an object", "data.num", [][]byte{one}, []string{ph("3")}, 3.0},
		{"bytes built in CEL", `b"\x01" + data`, [][]byte{one}, []string{ph("0")}, []byte{1, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			got, err := p.Eval(context.Background(), binaryVars(t, tt.attachments, tt.args...))
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestResolvingPlaceholdersLeavesTheSharedPayloadAlone(t *testing.T) {
	payload := gatehouse.NewPayload(json.RawMessage(`{"file":{"_placeholder":true,"num":0},"n":1}`))
	vars, err := VarsFor(nil, "message", payload)
	if err != nil {
		t.Fatal(err)
	}
	vars.WithArgs(&gatehouse.Args{Raw: []json.RawMessage{payload.Raw()}, Attachments: [][]byte{{9}}})
	if _, ok := vars.Data.(map[string]any)["file"].([]byte); !ok {
		t.Fatalf("data.file = %#v, want bytes", vars.Data)
	}
	shared, _ := payload.Data()
	if _, ok := shared.(map[string]any)["file"].(map[string]any); !ok {
		t.Fatalf("the payload guards share was changed: %#v", shared)
	}
}

func TestMayGiveBytes(t *testing.T) {
	tests := []struct {
		src         string
		attachments [][]byte
		want        bool
	}{
		{"data", nil, false},
		{"data", [][]byte{{1}}, true},
		{`{"a": b"x"}`, nil, true},
		{`bytes("hi")`, nil, true},
		{`{"user": user.sub, "message": data.message}`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			vars := Vars{Args: &gatehouse.Args{Attachments: tt.attachments}}
			if got := p.MayGiveBytes(&vars); got != tt.want {
				t.Fatalf("MayGiveBytes(%q) = %v, want %v", tt.src, got, tt.want)
			}
		})
	}
}

func TestHandshakeAuth(t *testing.T) {
	tests := []struct {
		name string
		auth *gatehouse.Payload
		src  string
		want any
	}{
		{"absent is {}", nil, "handshake.auth", map[string]any{}},
		{"the payload", gatehouse.NewPayload(json.RawMessage(`{"room":"r1"}`)), "handshake.auth", map[string]any{"room": "r1"}},
		{"a field read by CEL", gatehouse.NewPayload(json.RawMessage(`{"n":2}`)), "handshake.auth.n + 1.0", 3.0},
		{"has() on a field", gatehouse.NewPayload(json.RawMessage(`{"n":2}`)), "has(handshake.auth.room)", false},
		{"a field that is not there is absent to has()", gatehouse.NewPayload(json.RawMessage(`{"n":2}`)), "has(handshake.auth.token)", false},
		{"handshake.auth in an event is {}", nil, "size(handshake.auth)", int64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			vars := Vars{}
			vars.WithAuth(tt.auth)
			got, err := p.Eval(context.Background(), vars)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestIsVariable(t *testing.T) {
	for src, want := range map[string]bool{"args": true, "args[0]": false, "data": false, "[args]": false} {
		p, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.IsVariable("args"); got != want {
			t.Errorf("Compile(%q).IsVariable(args) = %v, want %v", src, got, want)
		}
	}
}
