package handlers_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestReplyAcksWithTheComputedValue(t *testing.T) {
	tests := []struct {
		name    string
		options string
		event   string
		payload string
		want    string
	}{
		{"claims of the caller", "value: user", "whoami", "", `{"sub": "alice", "username": "Alice"}`},
		{"a field of the payload", "value: data.message", "say", `{"message": "hi"}`, `"hi"`},
		{"a computed object", `value: '{"ok": true, "n": 1 + 1, "room": data.room}'`, "x", `{"room": "r1"}`, `{"ok": true, "n": 2, "room": "r1"}`},
		{"the event and socket", `value: '[event, socket.id, socket.transport]'`, "hello", "", `["hello", "sock-1", "websocket"]`},
		{"a constant", "value: 42", "x", "", `42`},
		{"null", `value: "null"`, "x", "", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, "reply", tt.options)
			var args []string
			if tt.payload != "" {
				args = append(args, tt.payload)
			}
			got, err := h.Handle(context.Background(), callWith(newTestSocket(), tt.event, args...))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.want)
		})
	}
}

func TestReplyRefusesPayloadsTheExpressionCannotUse(t *testing.T) {
	tests := []struct {
		name    string
		options string
		payload string
		message string
	}{
		{"missing key", "value: data.room", `{"message": "hi"}`, "no such key"},
		{"payload is not JSON", "value: data", `{"message"`, "not valid JSON"},
		{"wrong type", "value: data.n + 1", `{"n": "one"}`, "cannot evaluate value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, "reply", tt.options)
			_, err := h.Handle(context.Background(), callWith(newTestSocket(), "x", tt.payload))
			assertCode(t, err, gatehouse.CodeInvalidPayload, tt.message)
		})
	}
}
