package gateway

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// binaryEchoConfig echoes an event's first argument through CEL, binary
// values included.
const binaryEchoConfig = `
namespaces:
  /:
    events:
      echo:
        handler:
          reply: {value: data}
`

// binaryEchoSocket is a WebSocket speaking Engine.IO v4 by hand, for packets the
// test client does not send: binary attachments.
type binaryEchoSocket struct {
	t  *testing.T
	ws *websocket.Conn
	// received counts the bytes of every message read.
	received int
}

func dialBinaryEcho(t *testing.T, url string) *binaryEchoSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url+"?EIO=4&transport=websocket", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	r := &binaryEchoSocket{t: t, ws: ws}
	if open := r.read(); !strings.HasPrefix(string(open), "0") {
		t.Fatalf("open packet = %q", open)
	}
	return r
}

// read returns the next message that is not a ping, answering pings.
func (r *binaryEchoSocket) read() []byte {
	r.t.Helper()
	for {
		_ = r.ws.SetReadDeadline(time.Now().Add(limitsWait))
		_, data, err := r.ws.ReadMessage()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		r.received += len(data)
		if string(data) == "2" {
			r.write(websocket.TextMessage, []byte("3"))
			continue
		}
		return data
	}
}

func (r *binaryEchoSocket) write(kind int, data []byte) {
	r.t.Helper()
	if err := r.ws.WriteMessage(kind, data); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// attachmentsOf reads the attachment count of a BINARY_ACK's text part,
// "461-..." being Engine.IO message 4, Socket.IO packet 6, count 1.
func attachmentsOf(t *testing.T, text []byte) int {
	t.Helper()
	if !bytes.HasPrefix(text, []byte("46")) {
		t.Fatalf("expected a BINARY_ACK, got %.60q", text)
	}
	dash := bytes.IndexByte(text, '-')
	n, err := strconv.Atoi(string(text[2:dash]))
	if err != nil {
		t.Fatalf("attachment count of %.60q: %v", text, err)
	}
	return n
}

func TestOneAttachmentNamedByManyPlaceholdersIsEchoedOnce(t *testing.T) {
	// The attack: one 256KB attachment named by 2,000 placeholders, echoed
	// through an expression. Were each placeholder sent as an attachment of
	// its own, the gateway would send 500MB for 300KB received.
	const size, placeholders = 256 << 10, 2000
	g := startLiveGateway(t, binaryEchoConfig, Registries{})
	r := dialBinaryEcho(t, g.url)
	r.write(websocket.TextMessage, []byte("40"))
	if connected := r.read(); !strings.HasPrefix(string(connected), "40") {
		t.Fatalf("CONNECT answer = %q", connected)
	}
	refs := strings.Repeat(`{"_placeholder":true,"num":0},`, placeholders-1) + `{"_placeholder":true,"num":0}`
	text := []byte(`451-1["echo",[` + refs + `]]`)
	blob := bytes.Repeat([]byte{0xab}, size)
	sent := len(text) + len(blob)
	r.write(websocket.TextMessage, text)
	r.write(websocket.BinaryMessage, append([]byte(nil), blob...))

	r.received = 0
	ack := r.read()
	n := attachmentsOf(t, ack)
	if n != 1 {
		t.Fatalf("the ack carries %d attachments for one received: %d bytes sent back per %d received",
			n, n*size, sent)
	}
	if got := r.read(); !bytes.Equal(got, blob) {
		t.Fatalf("the attachment is %d bytes, not the %d sent", len(got), len(blob))
	}
	if budget := 2 * sent; r.received > budget {
		t.Fatalf("the gateway sent back %d bytes for %d received (budget %d)", r.received, sent, budget)
	}
	if want := strings.Count(string(ack), `"num":0`); want != placeholders {
		t.Fatalf("the ack names its attachment %d times, want %d", want, placeholders)
	}
}
