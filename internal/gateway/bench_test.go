package gateway

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// These benchmarks drive the whole event path of a built gateway (packet
// decode, guard chain, handler, CEL, encode) through the Socket.IO server,
// with Engine.IO sessions that only count what they are sent, so that the
// figures are the gateway's own cost per event, without the network.

// countingConn is an Engine.IO session that counts the packets queued to it
// and signals each one.
type countingConn struct {
	id       string
	received atomic.Int64
	signal   chan struct{}
}

func newCountingConn(n int) *countingConn {
	return &countingConn{id: "bench" + strconv.Itoa(n), signal: make(chan struct{}, 1024)}
}

func (c *countingConn) ID() string { return c.id }
func (c *countingConn) Handshake() *engineio.Handshake {
	return &engineio.Handshake{RemoteIP: "127.0.0.1"}
}
func (c *countingConn) Transport() string { return "websocket" }
func (c *countingConn) Close(string)      {}
func (c *countingConn) Send(msgs ...engineio.Message) error {
	c.received.Add(1)
	select {
	case c.signal <- struct{}{}:
	default:
	}
	return nil
}

// benchConfig turns the per-socket flood limit off: a benchmark sends far
// more than a client may, and would otherwise be refused, then disconnected.
const benchConfig = `
server:
  limits:
    flood: {rate: 0}
guards:
  message_body:
    schema:
      type: object
      required: [message]
      properties:
        message: {type: string, minLength: 1, maxLength: 2000}
  per_socket:
    rate_limit: {key: socket, rate: 1000000000, burst: 1000000000}
namespaces:
  /chat:
    events:
      whoami:
        handler:
          reply: {value: '{"id": socket.id}'}
      sendMessage:
        guards: [per_socket, message_body]
        handler:
          broadcast:
            event: message
            data: '{"user": socket.id, "message": data.message}'
            reply: '{"ok": true}'
`

// benchGateway builds a gateway from benchConfig and connects n sockets to
// /chat, returning their sessions and listeners.
func benchGateway(b *testing.B, n int) ([]*countingConn, []engineio.Listener) {
	b.Helper()
	cfg, err := config.Parse("bench.yaml", []byte(benchConfig), nil)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := Build(context.Background(), cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	conns := make([]*countingConn, n)
	listeners := make([]engineio.Listener, n)
	for i := range conns {
		conns[i] = newCountingConn(i)
		listeners[i] = gw.Sockets().Open(conns[i])
		listeners[i].OnMessage(engineio.Message{Data: []byte("0/chat,")})
		<-conns[i].signal // the CONNECT ack
	}
	b.Cleanup(func() {
		for _, l := range listeners {
			l.OnClose("transport close")
		}
	})
	return conns, listeners
}

// waitFor drains signals until conn has received want packets in all.
func waitFor(conn *countingConn, want int64) {
	for conn.received.Load() < want {
		<-conn.signal
	}
}

func BenchmarkEventThroughReplyHandler(b *testing.B) {
	conns, listeners := benchGateway(b, 1)
	conn, listener := conns[0], listeners[0]
	base := conn.received.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		listener.OnMessage(engineio.Message{Data: []byte(`2/chat,` + strconv.Itoa(i) + `["whoami"]`)})
		waitFor(conn, base+int64(i)+1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEventThroughBroadcastHandler(b *testing.B) {
	for _, recipients := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", recipients), func(b *testing.B) {
			conns, listeners := benchGateway(b, recipients)
			sender, listener := conns[0], listeners[0]
			last := conns[len(conns)-1]
			senderBase, lastBase := sender.received.Load(), last.received.Load()
			msg := []byte(`2/chat,1["sendMessage",{"message":"hello, everyone"}]`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				listener.OnMessage(engineio.Message{Data: msg})
				// The sender gets the broadcast and the ack; the last socket
				// the broadcast only.
				waitFor(sender, senderBase+2*int64(i+1))
				if last != sender {
					waitFor(last, lastBase+int64(i+1))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N*recipients)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

var _ engineio.Conn = (*countingConn)(nil)
