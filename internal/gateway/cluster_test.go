package gateway

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestFlattenArgsKeepsPlaceholdersPointingAtTheirAttachments(t *testing.T) {
	received := gatehouse.Args{
		Raw:         []json.RawMessage{json.RawMessage(`{"file":{"_placeholder":true,"num":0}}`)},
		Attachments: [][]byte{[]byte("received")},
	}
	tests := []struct {
		name            string
		args            []any
		wantRaw         []string
		wantAttachments []string
	}{
		{"plain values", []any{map[string]int{"a": 1}, nil, json.RawMessage(`"x"`)},
			[]string{`{"a":1}`, `null`, `"x"`}, nil},
		{"bytes", []any{[]byte("one"), "s", []byte("two")},
			[]string{`{"_placeholder":true,"num":0}`, `"s"`, `{"_placeholder":true,"num":1}`}, []string{"one", "two"}},
		{"received args first", []any{received, []byte("mine")},
			[]string{`{"file":{"_placeholder":true,"num":0}}`, `{"_placeholder":true,"num":1}`}, []string{"received", "mine"}},
		{"received args after bytes are renumbered", []any{[]byte("mine"), &received},
			[]string{`{"_placeholder":true,"num":0}`, `{"file":{"_placeholder":true,"num":1}}`}, []string{"mine", "received"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, attachments, err := flattenArgs("/chat", "event", tt.args)
			if err != nil {
				t.Fatalf("flattenArgs: %v", err)
			}
			var gotRaw, gotAttachments []string
			for _, r := range raw {
				gotRaw = append(gotRaw, string(r))
			}
			for _, a := range attachments {
				gotAttachments = append(gotAttachments, string(a))
			}
			if !reflect.DeepEqual(gotRaw, tt.wantRaw) || !reflect.DeepEqual(gotAttachments, tt.wantAttachments) {
				t.Errorf("got %q %q, want %q %q", gotRaw, gotAttachments, tt.wantRaw, tt.wantAttachments)
			}
		})
	}
	if _, _, err := flattenArgs("/chat", "event", []any{func() {}}); err == nil {
		t.Error("an argument JSON cannot encode was accepted")
	}
}
