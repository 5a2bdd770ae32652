package socketio

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The fast encoder must write byte for byte what encoding/json writes.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	var allBytes strings.Builder
	for b := 0; b < 256; b++ {
		allBytes.WriteByte(byte(b))
	}
	cases := []struct {
		name  string
		value any
	}{
		{"nil", nil},
		{"true", true},
		{"false", false},
		{"empty string", ""},
		{"plain string", "hello world"},
		{"every byte value, invalid UTF-8 included", allBytes.String()},
		{"html characters", `<script>alert("x&y")</script>`},
		{"line and paragraph separators", "a\u2028b\u2029c"},
		{"multibyte text", "héllo, 世界 🌍"},
		{"truncated multibyte", "ab\xe4\xb8"},
		{"control characters", "\b\f\n\r\t\x00\x1f\x7f"},
		{"zero", 0.0},
		{"negative zero", math.Copysign(0, -1)},
		{"integer float", 42.0},
		{"fraction", 123.456},
		{"small float switches to exponent", 1e-7},
		{"smallest plain float", 1e-6},
		{"large float below exponent", 1e20},
		{"large float switches to exponent", 1e21},
		{"negative exponent padding", 1.5e-9},
		{"subnormal", 5e-324},
		{"max float", math.MaxFloat64},
		{"int", 7},
		{"negative int64", int64(-9007199254740993)},
		{"int32", int32(-5)},
		{"uint64", uint64(math.MaxUint64)},
		{"uint32", uint32(4000000000)},
		{"nil map", map[string]any(nil)},
		{"empty map", map[string]any{}},
		{"claims", map[string]any{"sub": "u1", "exp": 1.7e9, "roles": []any{"admin", "user"}, "name": "Ann <a@b>", "ok": true, "n": nil}},
		{"many keys sorted", map[string]any{"k9": 1.0, "k1": 2.0, "k10": 3.0, "a": 4.0, "B": 5.0, "é": 6.0, "": 7.0, "k2": 8.0, "k3": 9.0, "k4": 1.0, "k5": 1.0, "k6": 1.0, "k7": 1.0, "k8": 1.0, "k11": 1.0, "k12": 1.0, "k13": 1.0, "k14": 1.0}},
		{"nested", map[string]any{"error": map[string]any{"code": "forbidden", "message": "no", "data": map[string]any{"limit": 5.0}}}},
		{"string map", map[string]string{"b": "2", "a": "<1>"}},
		{"nil string map", map[string]string(nil)},
		{"nil slice", []any(nil)},
		{"empty slice", []any{}},
		{"mixed slice", []any{1.0, "two", false, nil, []any{}, map[string]any{}}},
		{"string slice", []string{"a", "\"b\""}},
		{"nil string slice", []string(nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			got, ok := appendJSON([]byte("prefix"), tc.value, 0)
			if !ok {
				t.Fatalf("appendJSON refused %#v", tc.value)
			}
			if string(got) != "prefix"+string(want) {
				t.Fatalf("appendJSON wrote %s, encoding/json %s", got[len("prefix"):], want)
			}
		})
	}
}

func TestAppendJSONLeavesOtherValuesToEncodingJSON(t *testing.T) {
	deep := any("leaf")
	for range maxFastJSONDepth + 2 {
		deep = []any{deep}
	}
	cases := []struct {
		name  string
		value any
	}{
		{"struct", struct{ A int }{1}},
		{"raw message inside a map", map[string]any{"raw": json.RawMessage(`{"a": 1}`)}},
		{"json number", json.Number("1.0")},
		{"float32", float32(1.1)},
		{"NaN", math.NaN()},
		{"infinity inside a slice", []any{math.Inf(1)}},
		{"nesting deeper than the limit", deep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := appendJSON(nil, tc.value, 0); ok {
				t.Fatalf("appendJSON accepted %#v as %s", tc.value, got)
			}
		})
	}
}

// An acknowledgement's arguments read the same whichever encoder wrote
// them.
func TestEncodeAckFallsBackForOtherValues(t *testing.T) {
	type reply struct {
		OK   bool    `json:"ok"`
		Rate float32 `json:"rate"`
	}
	args := []any{map[string]any{"user": "u1", "html": "<b>"}, reply{OK: true, Rate: 1.5}, json.RawMessage(`[1]`)}
	msgs, err := EncodeAck("/chat", 12, args...)
	if err != nil {
		t.Fatal(err)
	}
	want := `3/chat,12[{"html":"\u003cb\u003e","user":"u1"},{"ok":true,"rate":1.5},[1]]`
	if len(msgs) != 1 || string(msgs[0].Data) != want {
		t.Fatalf("EncodeAck wrote %q, want %q", msgs[0].Data, want)
	}
	if _, err := EncodeAck("/", 1, math.Inf(1)); err == nil {
		t.Fatal("EncodeAck accepted an infinity")
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, seed := range []string{"", "a", "\xff", "\u2028", "<&>", "\x00\"\\", "日本"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}
