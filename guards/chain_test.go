package guards_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

// BenchmarkChainTypical runs the guards of sendToRoom in the default
// gateway.yaml (rate_limit, schema, expr) for one event, the payload decoded
// once and shared as the runtime shares it.
func BenchmarkChainTypical(b *testing.B) {
	chain := []guards.Guard{
		gatehousetest.Guard(b, "rate_limit", "{key: user, rate: 1e9, burst: 1000000000}"),
		gatehousetest.Guard(b, "schema", `{type: object, required: [room, message], properties: {room: {type: string, minLength: 1, maxLength: 200}, message: {type: string, minLength: 1, maxLength: 2000}}}`),
		gatehousetest.Guard(b, "expr", "{condition: data.room in socket.rooms, message: you must join the room before sending to it}"),
	}
	socket := alice()
	raw := json.RawMessage(`{"room":"dev","message":"hello there"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		in := &guards.Input{Socket: socket, Namespace: "/chat", Event: "sendToRoom",
			Payload: gatehouse.NewPayload(raw), Args: gatehouse.Args{Raw: []json.RawMessage{raw}}}
		for _, g := range chain {
			if err := g.Check(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
