package expr

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sockettest"
)

func chatVars(t *testing.T, payload string) Vars {
	t.Helper()
	s := sockettest.New(sockettest.Fields{
		ID: "sock1", Namespace: "/chat", Rooms: []string{"lobby", "dev"}, IP: "10.0.0.7",
		Claims: gatehouse.Claims{"sub": "alice", "username": "Alice", "role": "admin", "level": 3.0},
	})
	var p *gatehouse.Payload
	if payload != "" {
		p = gatehouse.NewPayload(json.RawMessage(payload))
	}
	vars, err := VarsFor(s, "sendMessage", p)
	if err != nil {
		t.Fatalf("VarsFor: %v", err)
	}
	return vars
}

func TestEvalConvertsResultsToPlainJSONValues(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		payload string
		want    any
	}{
		{"string claim", "user.sub", "", "alice"},
		{"optional claim present", `user.?username.orValue("")`, "", "Alice"},
		{"optional claim absent", `user.?nickname.orValue("anon")`, "", "anon"},
		{"optional none is null", `user.?nickname`, "", nil},
		{"int arithmetic", "1 + 2", "", int64(3)},
		{"double from JSON", "data.n * 2.0", `{"n": 1.5}`, 3.0},
		{"JSON number compared with int", "data.n > 1", `{"n": 1.5}`, true},
		{"bool", "data.room in socket.rooms", `{"room": "dev"}`, true},
		{"null data", "data", "", nil},
		{"event and namespace", "namespace + ':' + event", "", "/chat:sendMessage"},
		{"socket fields", "[socket.id, socket.ip, socket.transport]", "", []any{"sock1", "10.0.0.7", "websocket"}},
		{"rooms list", "socket.rooms", "", []any{"lobby", "dev"}},
		{
			"computed object", `{"user": user.sub, "message": data.message, "n": size(data.message)}`,
			`{"message": "hi"}`, map[string]any{"user": "alice", "message": "hi", "n": int64(2)},
		},
		{
			"whole payload passes through", "data", `{"a": [1, "x", null, true], "b": {"c": 2}}`,
			map[string]any{"a": []any{1.0, "x", nil, true}, "b": map[string]any{"c": 2.0}},
		},
		{"bytes stay bytes, sent as an attachment", "b'hi'", "", []byte("hi")},
		{"uint", "7u", "", int64(7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			got, err := p.Eval(context.Background(), chatVars(t, tt.payload))
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestCompileReportsErrorsOnOneLineWithColumn(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"data.room in", []string{"column ", "Syntax error"}},
		{"usr.sub", []string{"column 1:", "undeclared reference to 'usr'"}},
		{"event + 1", []string{"found no matching overload"}},
		{"", []string{"empty"}},
		{"true &&\n  nope", []string{"line 2, column 3:", "undeclared reference to 'nope'"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Compile(tt.src)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded, want an error", tt.src)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bigList := "[" + strings.Repeat("1,", 999) + "1]"
	tests := []struct {
		name    string
		ctx     context.Context
		src     string
		payload string
		want    string
	}{
		{"missing key", context.Background(), "data.room", `{"message": "x"}`, "no such key: room"},
		{"cost limit", context.Background(), "data.all(x, data.all(y, data.all(z, x == y)))", bigList, "cost limit"},
		{"cancelled context", cancelled, "data.all(x, data.all(y, x == y))", bigList, "interrupted"},
		{"map with non-string key", context.Background(), "{1: 2}", "", "not a string"},
		{"NaN", context.Background(), "0.0 / 0.0", "", "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			_, err = p.Eval(tt.ctx, chatVars(t, tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Eval error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEvalBool(t *testing.T) {
	tests := []struct {
		src     string
		want    bool
		wantErr string
	}{
		{"user.role == 'admin'", true, ""},
		{"'ops' in socket.rooms", false, ""},
		{"data", false, "must give a bool"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Compile(tt.src)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.EvalBool(context.Background(), chatVars(t, `"text"`))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EvalBool error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EvalBool = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMayBeBool(t *testing.T) {
	tests := map[string]bool{"user.role == 'admin'": true, "data.ok": true, "'yes'": false, "1 + 1": false}
	for src, want := range tests {
		p, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		if got := p.MayBeBool(); got != want {
			t.Errorf("MayBeBool(%q) = %v (type %s), want %v", src, got, p.ResultType(), want)
		}
	}
}

func TestVarsForWithoutClaimsGivesEmptyUser(t *testing.T) {
	vars, err := VarsFor(sockettest.New(sockettest.Fields{ID: "s"}), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile("has(user.sub) ? 'yes' : 'no'")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(context.Background(), vars)
	if err != nil || got != "no" {
		t.Fatalf("Eval = %v, %v; want no", got, err)
	}
}

func TestVarsForRefusesInvalidJSON(t *testing.T) {
	_, err := VarsFor(sockettest.New(sockettest.Fields{}), "e", gatehouse.NewPayload(json.RawMessage(`{"a":`)))
	if gatehouse.AsError(err).Code != gatehouse.CodeInvalidPayload {
		t.Fatalf("VarsFor error = %v, want invalid_payload", err)
	}
}

func decodeExprField(t *testing.T, src string) (*Expr, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var options struct {
		Value Expr `yaml:"value"`
	}
	err := gatewayconfig.NewOptions(&doc, gatewayconfig.Pos{File: "gateway.yaml", Line: 1, Column: 1}).Decode(&options)
	var list gatewayconfig.ErrorList
	if errors.As(err, &list) && len(list) == 1 {
		err = list[0]
	}
	return &options.Value, err
}

func TestExprUnmarshalConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantSrc string
		wantErr string
	}{
		{"plain scalar", "value: user.sub\n", "user.sub", ""},
		{"quoted object", "value: '{\"ok\": true}'\n", `{"ok": true}`, ""},
		{"integer scalar", "value: 42\n", "42", ""},
		{"null scalar", "value: ~\n", "null", ""},
		{"syntax error", "value: data.room in\n", "", "gateway.yaml:1:8: invalid expression: column "},
		{"mapping", "value: {a: b}\n", "", "gateway.yaml:1:8: expected a scalar, got a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := decodeExprField(t, tt.yaml)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tt.wantErr)
				}
				if _, ok := err.(*gatewayconfig.Error); !ok {
					t.Fatalf("error is %T, want *gatewayconfig.Error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Src != tt.wantSrc || e.Program == nil || e.Pos != (gatewayconfig.Pos{File: "gateway.yaml", Line: 1, Column: 8}) {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
}

// handlerOptions is how a handler declares its expressions.
type handlerOptions struct {
	Event string `yaml:"event"`
	Data  *Expr  `yaml:"data"`
	Reply Expr   `yaml:"reply"`
}

func TestExprDecodesThroughOptions(t *testing.T) {
	var doc yaml.Node
	src := "event: message\ndata: '{\"m\": data.message}'\nreply: '{\"ok\": true}'\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	opts := gatewayconfig.NewOptions(doc.Content[0], gatewayconfig.Pos{File: "gateway.yaml", Line: 1, Column: 1})
	var h handlerOptions
	if err := opts.Decode(&h); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if h.Data == nil || h.Data.Program == nil || h.Reply.Program == nil {
		t.Fatalf("expressions not compiled: %+v", h)
	}
	got, err := h.Data.Program.Eval(context.Background(), chatVars(t, `{"message": "hi"}`))
	if err != nil || !reflect.DeepEqual(got, map[string]any{"m": "hi"}) {
		t.Fatalf("Eval = %#v, %v", got, err)
	}
	if h.Data.Pos.Line != 2 || h.Data.Pos.Column != 7 {
		t.Errorf("data position = %v, want line 2 column 7", h.Data.Pos)
	}

	if err := yaml.Unmarshal([]byte("reply: '{\"ok\": tru}'\n"), &doc); err != nil {
		t.Fatal(err)
	}
	opts = gatewayconfig.NewOptions(doc.Content[0], gatewayconfig.Pos{File: "gateway.yaml", Line: 1, Column: 1})
	err = opts.Decode(&handlerOptions{})
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:1:8: invalid expression:") {
		t.Fatalf("Decode error = %v, want an invalid expression at 1:8", err)
	}
}

func BenchmarkEvalCondition(b *testing.B) {
	p, err := Compile("data.room in socket.rooms && user.role == 'admin'")
	if err != nil {
		b.Fatal(err)
	}
	s := sockettest.New(sockettest.Fields{ID: "s", Rooms: []string{"lobby", "dev"}, Claims: gatehouse.Claims{"role": "admin"}})
	payload := gatehouse.NewPayload(json.RawMessage(`{"room":"dev"}`))
	vars, err := VarsFor(s, "e", payload)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.EvalBool(ctx, vars); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
