package handlers_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

// benchCall returns a fresh call per iteration, as each event brings its own
// payload to decode.
func benchCall(s gatehouse.Socket, event string, payload json.RawMessage) *handlers.Call {
	return &handlers.Call{
		Socket:  s,
		Event:   event,
		Args:    gatehouse.Args{Raw: []json.RawMessage{payload}},
		Payload: gatehouse.NewPayload(payload),
	}
}

// BenchmarkReply measures the whoami handler of the default gateway.yaml.
func BenchmarkReply(b *testing.B) {
	s := gatehousetest.NewSocket(sockFields())
	h := build(b, "reply", "value: user")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, benchCall(s, "whoami", nil)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBroadcastHandler measures the sendMessage handler of the default
// gateway.yaml, up to the hand-off to the socket.
func BenchmarkBroadcastHandler(b *testing.B) {
	// A socket whose actions do nothing, so that the loop measures the
	// handler and not a growing record.
	s := gatehousetest.NewSocket(sockFields())
	h := build(b, "broadcast", `{event: message, data: '{"user": user.sub, "username": user.?username.orValue(""), "message": data.message}', reply: '{"ok": true}'}`)
	payload := json.RawMessage(`{"message": "hello, everyone in the room"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(ctx, benchCall(s, "sendMessage", payload)); err != nil {
			b.Fatal(err)
		}
	}
}
