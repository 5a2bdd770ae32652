package handlers_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// The built-ins answer MayBlock from their options and their host: what
// reaches the cluster blocks only when the adapter is distributed.
func TestBuiltinHandlersMayBlockFromTheirHost(t *testing.T) {
	tests := []struct {
		typ, options       string
		alone, distributed bool
	}{
		{"broadcast", "{event: said}", false, true},
		{"publish", "{}", false, true},
		{"reply", "{value: data}", false, false},
		{"join", "{room: data.room}", false, false},
		{"emit", "{event: e}", false, false},
		{"emit", "{event: e, await_ack: true}", true, true},
		{"webhook", "{url: 'http://127.0.0.1:1/hook'}", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.options, func(t *testing.T) {
			for _, distributed := range []bool{false, true} {
				host := gatehouse.NewHost(gatehouse.HostOptions{Distributed: distributed})
				h, err := gatehousetest.BuildHandler(t, tt.typ, tt.options, host)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.alone
				if distributed {
					want = tt.distributed
				}
				if got := gatehouse.MayBlock(h); got != want {
					t.Errorf("distributed %v: may block = %v, want %v", distributed, got, want)
				}
			}
		})
	}
}

func TestReplyBuiltWithTheKitAcksFromThePayload(t *testing.T) {
	h := gatehousetest.Handler(t, "reply", `{value: '{"room": data.room, "me": socket.id}'}`)
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	got, err := h.Handle(context.Background(), gatehousetest.Call(s, "where", `{"room": "lobby"}`))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := got.(map[string]any)
	if m["room"] != "lobby" || m["me"] != "s1" {
		t.Errorf("reply = %v", got)
	}
}
