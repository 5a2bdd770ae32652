package engineio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	fws "github.com/fasthttp/websocket"
)

// clientFrame is a client's WebSocket frame as an attacker writes it:
// masked with the all-zero key (which leaves the bytes as they are), FIN
// set only when fin.
func clientFrame(opcode byte, fin bool, payload []byte) []byte {
	first := opcode
	if fin {
		first |= 0x80
	}
	frame := []byte{first}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xFFFF:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	frame = append(frame, 0, 0, 0, 0)
	return append(frame, payload...)
}

// sendFragments writes a text message "4" + size bytes as fragments of
// at most chunk bytes, the last one final only when finish.
func sendFragments(t testing.TB, conn net.Conn, size, chunk int, finish bool) {
	t.Helper()
	data := []byte("4" + strings.Repeat("x", size))
	for i, opcode := 0, byte(fws.TextMessage); i < len(data); i, opcode = i+chunk, 0 {
		end := min(i+chunk, len(data))
		if _, err := conn.Write(clientFrame(opcode, finish && end == len(data), data[i:end])); err != nil {
			t.Fatalf("write fragment: %v", err)
		}
	}
}

// openWebSocket dials a WebSocket session and reads its open packet.
func openWebSocket(t testing.TB, ts *testServer) *fws.Conn {
	t.Helper()
	conn, resp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(waitLimit))
	if _, open, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("open packet %q: %v", open, err)
	}
	return conn
}

// closeCodeWithin reads until the server closes the WebSocket and returns
// the close frame's code, failing when that takes longer than within.
func closeCodeWithin(t testing.TB, ws *fws.Conn, within time.Duration) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var closed *fws.CloseError
		if errors.As(err, &closed) {
			return closed.Code, closed.Text
		}
		t.Fatalf("not closed with a close frame within %v: %v", within, err)
	}
}

func TestFragmentedMessageIsDeliveredWhole(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	ws := openWebSocket(t, ts)
	rec.nextConn(t)
	sendFragments(t, ws.UnderlyingConn(), 100<<10, 7<<10, true)
	rec.expectMessage(t, strings.Repeat("x", 100<<10), false)
}

func TestUnfinishedWebSocketMessageIsClosedAtMessageTimeout(t *testing.T) {
	for _, own := range []bool{true, false} {
		name := map[bool]string{true: "read hook", false: "no read hook"}[own]
		t.Run(name, func(t *testing.T) {
			refused := &refusalLog{}
			rec := newRecorder(false)
			ts := startServerOwning(t, own, Options{MessageTimeout: 500 * time.Millisecond, Refused: refused.record}, rec)
			ws := openWebSocket(t, ts)
			rec.nextConn(t)
			start := time.Now()
			sendFragments(t, ws.UnderlyingConn(), 200<<10, 64<<10, false)

			code, text := closeCodeWithin(t, ws, 3*time.Second)
			if code != fws.ClosePolicyViolation || !strings.Contains(text, "message timeout") {
				t.Errorf("closed with %d %q, want 1008 naming the message timeout", code, text)
			}
			if waited := time.Since(start); waited < 400*time.Millisecond {
				t.Errorf("closed after %v, before the message timeout", waited)
			}
			rec.expectClose(t, "transport error")
			if got := refused.all(); len(got) != 1 || got[0] != RefusedMessageTimeout+"@127.0.0.1" {
				t.Errorf("refusals %v, want one %s", got, RefusedMessageTimeout)
			}
		})
	}
}

func TestMessagesSpreadOverTimeWithinTheTimeoutAreKept(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{MessageTimeout: 2 * time.Second}, rec)
	ws := openWebSocket(t, ts)
	rec.nextConn(t)
	// Several messages, each of two fragments 300ms apart, over more
	// than the timeout in all: the deadline is per message.
	for range 4 {
		_, _ = ws.UnderlyingConn().Write(clientFrame(fws.TextMessage, false, []byte("4ab")))
		time.Sleep(300 * time.Millisecond)
		_, _ = ws.UnderlyingConn().Write(clientFrame(0, true, []byte("cd")))
		rec.expectMessage(t, "abcd", false)
	}
	// Idle after a message: no deadline until the next one starts.
	time.Sleep(2500 * time.Millisecond)
	sendFragments(t, ws.UnderlyingConn(), 10, 4, true)
	rec.expectMessage(t, strings.Repeat("x", 10), false)
}

func TestFragmentsOverMaxPayloadCloseTheConnectionAtOnce(t *testing.T) {
	refused := &refusalLog{}
	rec := newRecorder(false)
	ts := startServer(t, Options{MaxPayload: 64 << 10, MessageTimeout: time.Minute, Refused: refused.record}, rec)
	ws := openWebSocket(t, ts)
	rec.nextConn(t)
	// A fragment of 40 KiB, then the header of another of 40 KiB: each
	// under max_payload, together over. The second's payload is never
	// sent: the refusal may not wait for it.
	sendFragments(t, ws.UnderlyingConn(), 40<<10, 48<<10, false)
	second := clientFrame(0, false, make([]byte, 40<<10))
	if _, err := ws.UnderlyingConn().Write(second[:14]); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCodeWithin(t, ws, 2*time.Second); code != fws.CloseMessageTooBig {
		t.Errorf("closed with %d, want 1009", code)
	}
	rec.expectClose(t, "transport error")
	if got := refused.all(); len(got) != 1 || got[0] != RefusedMaxPayload+"@127.0.0.1" {
		t.Errorf("refusals %v, want one %s", got, RefusedMaxPayload)
	}
}

// TestUnfinishedMessagesHoldAboutWhatTheySent is the attack: connections
// each sending a message of nearly max_payload in fragments, never the
// last. The server may hold about what came, not a buffer doubled past it.
func TestUnfinishedMessagesHoldAboutWhatTheySent(t *testing.T) {
	n := 16
	if os.Getenv("GATEHOUSE_EDGE_LONG") != "" {
		n = 200
	}
	const sent = 960 << 10
	// Per connection, besides what was sent: the WebSocket, the session
	// and its goroutine, and the last piece of the message (16 KiB).
	const budget = sent + 64<<10
	rec := newRecorder(false)
	ts := startServer(t, Options{MessageTimeout: time.Minute}, rec)
	before := memoryInUse()
	conns := make([]*fws.Conn, n)
	for i := range conns {
		conns[i] = openWebSocket(t, ts)
		rec.nextConn(t)
		sendFragments(t, conns[i].UnderlyingConn(), sent, 64<<10, false)
	}
	time.Sleep(500 * time.Millisecond) // the last fragments are read
	held := int64(memoryInUse()) - int64(before)
	t.Logf("%d unfinished messages of %d KiB: memory grew %d KiB (%d KiB each)", n, sent>>10, held>>10, held/int64(n)>>10)
	if held > int64(n*budget) {
		t.Errorf("memory grew %d KiB, over %d KiB each", held>>10, budget>>10)
	}
}

func TestReadAppendReturnsTheWholeMessageWhateverTheReadsAndSizes(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, messageChunk, 512 + messageChunk, 512 + messageChunk + 1, 3*messageChunk + 7} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i * 7)
		}
		readers := map[string]func() io.Reader{
			"whole":         func() io.Reader { return bytes.NewReader(want) },
			"byte by byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(want)) },
			"EOF with data": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(want)) },
			"half reads":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(want)) },
		}
		for name, reader := range readers {
			got, err := readAppend(make([]byte, 0, 512), reader())
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%d bytes, %s: got %d bytes, %v", size, name, len(got), err)
			}
		}
	}
}
