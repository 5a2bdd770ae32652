package gateway

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/fasthttp/websocket"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// writeLog records every Write made on the connections of a listener, in
// order: what went out in one call reaches the client in one TCP chunk.
type writeLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (l *writeLog) add(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, bytes.Clone(b))
}

// indexOf returns the index of the first write holding part, or -1.
func (l *writeLog) indexOf(part string) (int, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, w := range l.writes {
		if bytes.Contains(w, []byte(part)) {
			return i, w
		}
	}
	return -1, nil
}

type loggingListener struct {
	net.Listener
	log *writeLog
}

func (l loggingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loggingConn{Conn: conn, log: l.log}, nil
}

type loggingConn struct {
	net.Conn
	log *writeLog
}

func (c loggingConn) Write(b []byte) (int, error) {
	c.log.add(b)
	return c.Conn.Write(b)
}

// startWriteLoggedGateway serves the config file at path on a free port, its
// connections' writes recorded, and returns its WebSocket URL.
func startWriteLoggedGateway(t *testing.T, path string) (string, *writeLog) {
	t.Helper()
	cfg, err := gatewayconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := Build(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &writeLog{}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(loggingListener{Listener: ln, log: log}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-served
	})
	return "ws://" + ln.Addr().String() + "/socket.io/?EIO=4&transport=websocket", log
}

// TestConnectAckIsWrittenBeforeOnConnectEmits checks what the official
// protocol test suite relies on: the CONNECT ack leaves in a write of its
// own, before what on_connect emits, as the reference server sends it. A
// client that handles the frames of one TCP read in one go (ws 8.17 and
// later) would otherwise get the "auth" event in the same tick as the ack,
// before it listens for it.
func TestConnectAckIsWrittenBeforeOnConnectEmits(t *testing.T) {
	url, log := startWriteLoggedGateway(t, "../../examples/conformance/gateway.yaml")
	tests := []struct {
		name, nsp string
		connect   string // the client's CONNECT packet
		ack, emit string // what the server's frames start with
	}{
		{"main namespace", "/", `40{"token":"123"}`, `40{"sid":"`, `42["auth",{"token":"123"}]`},
		{"custom namespace", "/custom", `40/custom,`, `40/custom,{"sid":"`, `42/custom,["auth",{}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			defer cancel()
			ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer ws.Close()
			if _, open, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
				t.Fatalf("no open packet: %q %v", open, err)
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte(tt.connect)); err != nil {
				t.Fatal(err)
			}
			deadline, _ := ctx.Deadline()
			_ = ws.SetReadDeadline(deadline)
			var got []string
			for len(got) < 2 {
				_, data, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("after %q: %v", got, err)
				}
				if string(data) != "2" { // a ping may come in between
					got = append(got, string(data))
				}
			}
			if !strings.HasPrefix(got[0], tt.ack) || got[1] != tt.emit {
				t.Fatalf("frames %q, want the ack %q... then %q", got, tt.ack, tt.emit)
			}
			ackAt, ackWrite := log.indexOf(tt.ack)
			emitAt, _ := log.indexOf(tt.emit)
			if ackAt < 0 || emitAt <= ackAt {
				t.Fatalf("the ack went out in write %d, the on_connect emit in write %d (%q): want the ack written first, on its own", ackAt, emitAt, ackWrite)
			}
		})
	}
}
