package socketio

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

func BenchmarkDecodeEvent(b *testing.B) {
	msg := engineio.Message{Data: []byte(`2/chat,12["sendMessage",{"message":"hello there, this is a chat message of ordinary length","room":"lobby"}]`)}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg.Data)))
	var d Decoder
	for b.Loop() {
		p, err := d.Add(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := p.Event(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	payload := gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`{"user":"u1","username":"alice","message":"hello there, this is a chat message of ordinary length"}`)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent("/chat", NoID, "message", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// discardConn is a session whose queue accepts everything, so the benchmark
// measures the broadcast itself.
type discardConn struct{ *memConn }

func (c *discardConn) Send(...engineio.Message) error { return nil }

func BenchmarkBroadcast1k(b *testing.B) {
	h := newTestHooks("/chat")
	srv := newTestServer(h, Options{})
	ns := srv.namespace("/chat", true)
	for range 1000 {
		conn := &discardConn{memConn: newMemConn()}
		c := srv.Open(conn).(*client)
		s := newSocket(c, ns)
		ns.add(s)
		if err := s.Join("room"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close("transport close"); c.OnClose("transport close") })
	}
	args := gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`{"user":"u1","message":"hello"}`)}}
	ctx := context.Background()
	rooms := []string{"room"}
	b.ReportAllocs()
	for b.Loop() {
		if err := srv.Broadcast(ctx, "/chat", rooms, nil, "message", args); err != nil {
			b.Fatal(err)
		}
	}
}
