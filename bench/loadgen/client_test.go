package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestClientFramesAgainstARealWebSocketServer runs the load tool's own
// WebSocket framing against fasthttp/websocket's server: every length
// encoding, a fragmented message, a binary one, a ping, the close, and
// masked frames the server accepts.
func TestClientFramesAgainstARealWebSocketServer(t *testing.T) {
	medium := strings.Repeat("m", 300)     // 16-bit length, fits the read buffer
	large := strings.Repeat("L", 70000)    // 64-bit length, copied out
	fragmented := strings.Repeat("f", 200) // continuation frames
	pong := make(chan string, 1)
	serverErr := make(chan error, 1)
	upgrader := websocket.Upgrader{WriteBufferSize: 64}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/socket.io/" || r.URL.Query().Get("transport") != "websocket" {
			http.Error(w, "wrong path", http.StatusNotFound)
			return
		}
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			serverErr <- err
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(data string) error { pong <- data; return nil })
		serverErr <- func() error {
			for _, m := range []struct {
				typ  int
				data string
			}{{websocket.TextMessage, "0open"}, {websocket.BinaryMessage, "skipped"}, {websocket.TextMessage, medium}, {websocket.TextMessage, large}} {
				if err := ws.WriteMessage(m.typ, []byte(m.data)); err != nil {
					return err
				}
			}
			if err := ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
				return err
			}
			wr, err := ws.NextWriter(websocket.TextMessage)
			if err != nil {
				return err
			}
			for i := 0; i < len(fragmented); i += 50 {
				if _, err := io.WriteString(wr, fragmented[i:i+50]); err != nil {
					return err
				}
			}
			if err := wr.Close(); err != nil {
				return err
			}
			for range 2 { // a short message and a long one, echoed
				typ, got, err := ws.ReadMessage()
				if err != nil || typ != websocket.TextMessage {
					return errors.Join(err, errors.New("client message not read as text"))
				}
				if err := ws.WriteMessage(websocket.TextMessage, append([]byte("echo:"), got...)); err != nil {
					return err
				}
			}
			return ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}()
	}))
	defer srv.Close()

	e, err := newEndpoint(strings.TrimPrefix(srv.URL, "http://"), "/socket.io/", "/chat", "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.dial(ctx, 0)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.close()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"0open", medium, large, fragmented} {
		got, err := c.read()
		if err != nil {
			t.Fatalf("read %.10q...: %v", want, err)
		}
		if string(got) != want {
			t.Fatalf("read %d bytes %.20q, want %d bytes %.20q", len(got), got, len(want), want)
		}
	}
	longOut := strings.Repeat("x", 70000)
	if err := c.emit(7, `["whoami"]`); err != nil {
		t.Fatalf("emit: %v", err)
	}
	if err := c.write([]byte(longOut)); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, want := range []string{`echo:42/chat,7["whoami"]`, "echo:" + longOut} {
		got, err := c.read()
		if err != nil || string(got) != want {
			t.Fatalf("read %.40q (%v), want %.40q", got, err, want)
		}
	}
	if _, err := c.read(); !errors.Is(err, io.EOF) {
		t.Errorf("after the close frame: %v, want io.EOF", err)
	}
	if err := <-serverErr; err != nil {
		t.Errorf("server: %v", err)
	}
	select {
	case data := <-pong:
		if data != "hi" {
			t.Errorf("pong %q, want hi", data)
		}
	default:
		t.Error("the ping was not answered")
	}
}

func TestUpgradeWithoutTheRightAcceptIsRefused(t *testing.T) {
	tests := []struct {
		name, response string
	}{
		{"not 101", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"},
		{"no accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"},
		{"wrong accept", "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n"},
		{"cut short", "HTTP/1.1 101 Switching Protocols\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufioReader(tt.response)
			if err := readUpgradeResponse(br, "dGhlIHNhbXBsZSBub25jZQ=="); err == nil {
				t.Error("accepted")
			}
		})
	}
	// RFC 6455 §1.3's example key and accept value.
	ok := "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	if err := readUpgradeResponse(bufioReader(ok), "dGhlIHNhbXBsZSBub25jZQ=="); err != nil {
		t.Errorf("the RFC's example refused: %v", err)
	}
}

func TestLeadingIntParsesDigitsUpToOverflow(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"7[", 7}, {"1795000000000000000\"", 1795000000000000000}, {"9223372036854775807", 9223372036854775807},
		{"9223372036854775808", -1}, {"", -1}, {"[1]", -1}, {"0", 0},
	}
	for _, tt := range tests {
		if got := leadingInt([]byte(tt.in)); got != tt.want {
			t.Errorf("leadingInt(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDueRingMatchesAcksInAnyOrder(t *testing.T) {
	var r dueRing
	t0 := time.Unix(1000, 0)
	at := func(id int64) time.Time { return t0.Add(time.Duration(id) * time.Millisecond) }
	for id := int64(1); id <= 40; id++ { // grows past its first size
		r.push(id, at(id))
	}
	for _, id := range []int64{3, 1, 40, 2, 17} {
		due, ok := r.take(id)
		if !ok || !due.Equal(at(id)) {
			t.Errorf("take(%d) = %v, %v; want %v", id, due, ok, at(id))
		}
	}
	for _, id := range []int64{1, 3, 40, 0, 41, -5} {
		if _, ok := r.take(id); ok {
			t.Errorf("take(%d) found an event not in flight", id)
		}
	}
	if r.base != 4 {
		t.Errorf("base %d after 1, 2, 3 were acked, want 4", r.base)
	}
	for id := int64(41); id <= 100; id++ { // 4 is never acked: the ring keeps it
		r.push(id, at(id))
		if _, ok := r.take(id); !ok {
			t.Fatalf("take(%d) missed", id)
		}
	}
	if due, ok := r.take(4); !ok || !due.Equal(at(4)) {
		t.Errorf("the oldest event was lost: %v, %v", due, ok)
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
