package engineio

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// TestFrameSentWithTheUpgradeKeepsNoRequestReadBuffer holds WebSocket
// sessions whose clients write their first frame in the same write as the
// upgrade request, on both read paths and with fasthttp's request reader
// released between requests or not, as the gateway runs it (32 KiB,
// streamed bodies). Those bytes sit in the request's reader when the
// connection is hijacked; the frame must be answered, and the session
// then cost no more than one whose client waited for the 101: the reader
// kept for them made each such idle connection hold 32 KiB more. The
// budget is the waiting client's figure and 2 KiB.
func TestFrameSentWithTheUpgradeKeepsNoRequestReadBuffer(t *testing.T) {
	const (
		conns  = 300
		margin = 2 << 10 // bytes per connection over a client that waited
	)
	for _, tc := range pipelinedUpgradeCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.start(t, Options{PingInterval: time.Hour, PingTimeout: time.Hour}, echoHandler{})
			var held []net.Conn
			defer func() {
				for _, c := range held {
					_ = c.Close()
				}
			}()
			batch := func(pipelined bool) uint64 {
				held = append(held, holdEchoedWebSocket(t, ts, pipelined)) // warms the pools
				settleReadPath(t, ts, tc.readPath, len(held))
				before := heapAlloc()
				for range conns {
					held = append(held, holdEchoedWebSocket(t, ts, pipelined))
				}
				settleReadPath(t, ts, tc.readPath, len(held))
				return (heapAlloc() - before) / conns
			}
			waited := batch(false)
			pipelined := batch(true)
			t.Logf("live heap per idle session: %d bytes after waiting for the 101, %d after a frame sent with the upgrade", waited, pipelined)
			if pipelined > waited+margin {
				t.Fatalf("a session whose first frame came with the upgrade holds %d bytes of heap, over %d (%d for one that waited)",
					pipelined, waited+margin, waited)
			}
		})
	}
}

// TestFramesSentWithTheUpgradeAreAllAnsweredInOrder writes the upgrade
// request and 60 messages in one write, more than the WebSocket's own
// read buffer takes at once (wsReadBufferSize), so that the bytes copied
// out of the request's reader are read over several reads on the
// goroutine path and handed to the poller on the other: every message is
// answered, in order.
func TestFramesSentWithTheUpgradeAreAllAnsweredInOrder(t *testing.T) {
	const messages = 60
	for _, tc := range pipelinedUpgradeCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.start(t, Options{}, echoHandler{})
			burst := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
				"Host: " + ts.addr + "\r\n" +
				"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			var want []byte
			for i := range messages {
				m := fmt.Sprintf("4message %02d;", i)
				burst = append(burst, maskedTextFrame(m)...)
				want = append(want, m...)
			}
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(waitLimit))
			if _, err := conn.Write(burst); err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 4096)
			for !bytes.Contains(got, []byte("4message 59;")) {
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatalf("not every message answered: %v; got %q", err, got)
				}
			}
			// The server's frames are unmasked text frames of under 126
			// bytes: a two-byte header before each payload.
			var echoed []byte
			for rest := got[bytes.Index(got, []byte("\x81")):]; len(rest) >= 2; {
				n := int(rest[1])
				if payload := rest[2 : 2+n]; bytes.HasPrefix(payload, []byte("4message")) {
					echoed = append(echoed, payload...)
				}
				rest = rest[2+n:]
			}
			if !bytes.Equal(echoed, want) {
				t.Fatalf("answers %q, want %q", echoed, want)
			}
		})
	}
}

// holdEchoedWebSocket opens a WebSocket session on a bare TCP connection,
// sends one message, with the upgrade request in the same write when
// pipelined, else once the open packet came, waits for its echo and
// returns the connection, to be held idle.
func holdEchoedWebSocket(t *testing.T, ts *testServer, pipelined bool) net.Conn {
	t.Helper()
	request := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + ts.addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	frame := maskedTextFrame("4pipelined")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	first := request
	if pipelined {
		first = append(request, frame...)
	}
	if _, err := conn.Write(first); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 1024)
	readUntil := func(want string) {
		for !bytes.Contains(got, []byte(want)) {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				_ = conn.Close()
				t.Fatalf("waiting for %q: %v; got %q", want, err, got)
			}
		}
	}
	if !pipelined {
		readUntil(`0{"sid"`)
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	readUntil("4pipelined")
	_ = conn.SetDeadline(time.Time{})
	return conn
}

// settleReadPath waits for the poller, on its read path, to read the n
// sessions held.
func settleReadPath(t *testing.T, ts *testServer, readPath string, n int) {
	t.Helper()
	if readPath == ReadPathPoller {
		eventually(t, "every session to be read by the poller", func() bool { return polled(ts) == n })
	}
}

// startServerConfigured starts the server owning its hijacked connections,
// as startServer does, on a Fiber app configured with config.
func startServerConfigured(t *testing.T, config fiber.Config, opts Options, h Handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(config)
	srv := NewServer(opts, h)
	srv.OwnHijackedConns(app.Server())
	srv.Mount(app, "/socket.io/")
	served := make(chan error, 1)
	go func() { served <- app.Listener(srv.WrapListener(ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := app.ShutdownWithContext(ctx); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		<-served
	})
	return &testServer{srv: srv, addr: ln.Addr().String()}
}

// pipelinedUpgradeCase is a server configured as the gateway's (a 32 KiB
// request reader, streamed bodies) with one read path, and fasthttp's
// request reader released between requests or kept.
type pipelinedUpgradeCase struct {
	name     string
	readPath string
	reduce   bool
}

var pipelinedUpgradeCases = []pipelinedUpgradeCase{
	{"poller, reader released between requests", ReadPathPoller, true},
	{"poller, reader kept between requests", ReadPathPoller, false},
	{"goroutine, reader released between requests", ReadPathGoroutine, true},
	{"goroutine, reader kept between requests", ReadPathGoroutine, false},
}

// start starts the case's server with opts, its read path set.
func (tc pipelinedUpgradeCase) start(t *testing.T, opts Options, h Handler) *testServer {
	t.Helper()
	opts.ReadPath = tc.readPath
	return startServerConfigured(t, fiber.Config{
		DisableStartupMessage: true,
		ReadBufferSize:        32 << 10,
		StreamRequestBody:     true,
		ReduceMemoryUsage:     tc.reduce,
	}, opts, h)
}
