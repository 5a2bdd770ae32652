package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// These benchmarks drive the whole event path of a built gateway (packet
// decode, guard chain, handler, CEL, encode) through the Socket.IO server,
// with Engine.IO sessions that only count what they are sent, so that the
// figures are the gateway's own cost per event, without the network.

// countingConn is an Engine.IO session that counts the packets queued to it
// and signals each one.
type countingConn struct {
	id        string
	handshake *engineio.Handshake
	received  atomic.Int64
	signal    chan struct{}
}

func newCountingConn(n int) *countingConn {
	return &countingConn{
		id:        "bench" + strconv.Itoa(n),
		handshake: &engineio.Handshake{RemoteIP: "127.0.0.1"},
		signal:    make(chan struct{}, 1024),
	}
}

func (c *countingConn) ID() string { return c.id }

// Handshake is kept, as a session keeps its own, so that reading it costs
// what it costs a real session: nothing.
func (c *countingConn) Handshake() *engineio.Handshake { return c.handshake }
func (c *countingConn) Transport() string              { return "websocket" }
func (c *countingConn) Close(string)                   {}
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
	cfg, err := gatewayconfig.Parse("bench.yaml", []byte(benchConfig), nil)
	if err != nil {
		b.Fatal(err)
	}
	return connectBenchSockets(b, cfg, n, func(int) string { return "0/chat," })
}

// connectBenchSockets builds a gateway from cfg and connects n sockets,
// the i-th with the CONNECT packet connect(i), waiting for each CONNECT
// ack.
func connectBenchSockets(b *testing.B, cfg *gatewayconfig.Config, n int, connect func(i int) string) ([]*countingConn, []engineio.Listener) {
	b.Helper()
	gw, err := Build(context.Background(), cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	gw.cluster.start() // as Serve does: the adapter delivers recorded broadcasts
	conns := make([]*countingConn, n)
	listeners := make([]engineio.Listener, n)
	for i := range conns {
		conns[i] = newCountingConn(i)
		listeners[i] = gw.Sockets().Open(conns[i])
		listeners[i].OnMessage(engineio.Message{Data: []byte(connect(i))})
		<-conns[i].signal // the CONNECT ack (or refusal)
		if s := gw.Sockets().Sockets("/chat"); len(s) != i+1 {
			b.Fatalf("socket %d was not admitted to /chat (%d sockets)", i, len(s))
		}
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
			sendMessages(b, conns, listeners[0])
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N*recipients)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkEventThroughBroadcastHandlerRecovery is the same broadcast in a
// namespace that recovers sessions (memory adapter): each packet is
// recorded in the namespace's stream and carries its offset. Run beside
// BenchmarkEventThroughBroadcastHandler for the cost per message.
func BenchmarkEventThroughBroadcastHandlerRecovery(b *testing.B) {
	text := strings.Replace(benchConfig, "  /chat:\n", "  /chat:\n    recovery: {max_disconnection: 2m}\n", 1)
	if text == benchConfig {
		b.Fatal("benchConfig has no /chat namespace to give recovery")
	}
	for _, recipients := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", recipients), func(b *testing.B) {
			cfg, err := gatewayconfig.Parse("bench.yaml", []byte(text), nil)
			if err != nil {
				b.Fatal(err)
			}
			conns, listeners := connectBenchSockets(b, cfg, recipients, func(int) string { return "0/chat," })
			sendMessages(b, conns, listeners[0])
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N*recipients)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// sendMessages has the first of conns send b.N sendMessage events with an
// ack, each broadcast to every socket of the namespace, the sender
// included, and waits until the sender has the broadcast and the ack and
// the last socket the broadcast.
func sendMessages(b *testing.B, conns []*countingConn, sender engineio.Listener) {
	first, last := conns[0], conns[len(conns)-1]
	firstBase, lastBase := first.received.Load(), last.received.Load()
	msg := []byte(`2/chat,1["sendMessage",{"message":"hello, everyone"}]`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sender.OnMessage(engineio.Message{Data: msg})
		waitFor(first, firstBase+2*int64(i+1))
		if last != first {
			waitFor(last, lastBase+int64(i+1))
		}
	}
}

// c1BenchSecret signs the tokens of the C1 benchmarks.
const c1BenchSecret = "c1-bench-secret"

// c1Gateway builds the repository's gateway.yaml (contract C1) as the
// gateway loads it, with JWT_SECRET from the environment, and connects n
// sockets to /chat with signed tokens. Two limits are lifted, because a
// benchmark sends far more than one user may: the per-socket flood limit
// and the per_user rate limit of sendMessage (its bucket is made huge, so
// that the guard still runs and takes a token per event).
func c1Gateway(b *testing.B, n int) ([]*countingConn, []engineio.Listener) {
	b.Helper()
	b.Setenv("JWT_SECRET", c1BenchSecret)
	cfg, err := gatewayconfig.Load("../../gateway.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Server.Limits.Flood.Rate = 0
	lifted := false
	for _, g := range cfg.Guards {
		if g.Name != "per_user" {
			continue
		}
		node := gatewayconfig.OptionsNode(g.Options)
		for i := 0; node != nil && i+1 < len(node.Content); i += 2 {
			switch node.Content[i].Value {
			case "rate", "burst":
				node.Content[i+1].Value = "1000000000"
				lifted = true
			}
		}
	}
	if !lifted {
		b.Fatal("gateway.yaml has no per_user rate limit to lift")
	}
	return connectBenchSockets(b, cfg, n, func(i int) string {
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub":      "user" + strconv.Itoa(i),
			"username": "User " + strconv.Itoa(i),
			"role":     "member",
			"exp":      time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(c1BenchSecret))
		if err != nil {
			b.Fatal(err)
		}
		return `0/chat,{"token":"` + token + `"}`
	})
}

// BenchmarkC1Whoami is C1's whoami: an ack of the caller's claims.
func BenchmarkC1Whoami(b *testing.B) {
	conns, listeners := c1Gateway(b, 1)
	conn, listener := conns[0], listeners[0]
	base := conn.received.Load()
	msg := []byte(`2/chat,1["whoami"]`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		listener.OnMessage(engineio.Message{Data: msg})
		waitFor(conn, base+int64(i)+1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkC1SendMessage is C1's sendMessage from one socket of five in
// /chat: the rate limit and schema guards, a broadcast to the namespace,
// the sender included, and the ack.
func BenchmarkC1SendMessage(b *testing.B) {
	const sockets = 5
	conns, listeners := c1Gateway(b, sockets)
	sendMessages(b, conns, listeners[0])
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

var _ engineio.Conn = (*countingConn)(nil)
