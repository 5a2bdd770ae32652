package engineio

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// A client that stops reading fills its socket's send buffer under the
// flusher's non-blocking writes; what the socket did not take, often
// half a frame, goes to a writer goroutine of the socket's own, and the
// messages queued meanwhile follow it. Once the client reads again it
// gets every message whole and in order.
func TestFlusherMeetingAFullSendBufferHandsOverWithoutLosingOrReordering(t *testing.T) {
	const messages = 400
	rec := newRecorder(false)
	ts := startServer(t, Options{ReadPath: ReadPathPoller, SendQueue: 2 * messages,
		PingInterval: time.Minute, PingTimeout: time.Minute}, rec)
	ws, conn, _ := dialPolledWebSocket(t, ts, rec)
	defer ws.Close()

	// 400 × 20 KiB is far more than the socket buffers of both ends hold,
	// and 20 KiB frames do not fit them evenly: writes end mid-frame.
	pad := bytes.Repeat([]byte("x"), 20<<10)
	handedBefore := ts.srv.flush.handedOver.Load()
	sent := make(chan error, 1)
	go func() {
		for i := range messages {
			if err := conn.Send(Message{Data: append([]byte(strconv.Itoa(i)+":"), pad...)}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// The client reads nothing until the flushers met the full buffer.
	eventually(t, "a flusher to hand a batch over", func() bool { return ts.srv.flush.handedOver.Load() > handedBefore })
	for i := range messages {
		_, data := readFrame(t, ws)
		want := "4" + strconv.Itoa(i) + ":"
		if len(data) != len(want)+len(pad) || data[:len(want)] != want {
			t.Fatalf("message %d: got %d bytes starting %.12q, want %d starting %q", i, len(data), data, len(want)+len(pad), want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// The writer that took over let the link go: the next message leaves
	// through a flusher again.
	if err := conn.Send(Message{Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	expectText(t, ws, "4after")
}

// One goroutine queuing on many polled sockets, as a broadcast does, has
// them written by the flushers, each socket's packets whole and in order.
func TestFlushersWriteEverySocketOfABroadcastInOrder(t *testing.T) {
	const sockets, rounds = 50, 20
	rec := newRecorder(false)
	ts := startServer(t, pollerOptions(), rec)
	conns := make([]Conn, sockets)
	clients := make([]*fws.Conn, sockets)
	for i := range sockets {
		clients[i] = dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
		defer clients[i].Close()
		readOpen(t, clients[i])
		conns[i] = rec.nextConn(t)
	}
	for r := range rounds {
		msg := Message{Data: []byte("round " + strconv.Itoa(r))}
		for _, c := range conns {
			if err := c.Send(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range clients {
		for r := range rounds {
			if _, data := readFrame(t, c); data != "4round "+strconv.Itoa(r) {
				t.Fatalf("socket %d, message %d: %q", i, r, data)
			}
		}
	}
}

// A flusher's write goes through the socket's RawConn without allocating:
// its callback is made once per flusher, not per write.
func TestFlusherWriteAllocatesNothing(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, pollerOptions(), rec)
	ws, _, link := dialPolledWebSocket(t, ts, rec)
	defer ws.Close()
	pc := link.pc.Load()

	frame := appendFrame(nil, packet{typ: packetMessage, data: []byte("x")})
	w := newRawWrite()
	short := 0
	allocs := testing.AllocsPerRun(20, func() {
		if n, err := pc.writeNow(w, frame); n != len(frame) || err != nil {
			short++
		}
	})
	if short > 0 {
		t.Fatalf("%d of 21 writes of %d bytes were not taken whole", short, len(frame))
	}
	for range 21 {
		expectText(t, ws, "4x")
	}
	if allocs != 0 {
		t.Errorf("a flusher's write allocates %v times", allocs)
	}
}

// A socket idle for longer than the write timeout keeps the deadline of
// its last blocking write (here the open packet's), long passed; a
// socket the runtime keeps refuses writes through its RawConn while it
// stands. A broadcast's write, non-blocking, has no use for it: the
// flusher writes the socket itself instead of handing it to a writer
// goroutine, which a room with sparse messages would otherwise cost once
// per socket per write timeout.
func TestFlusherWritesASocketIdlePastTheWriteTimeoutItself(t *testing.T) {
	rec := newRecorder(false)
	// The write timeout is the ping timeout, a second at least.
	ts := startServer(t, Options{ReadPath: ReadPathPoller, PingInterval: time.Minute, PingTimeout: time.Second}, rec)
	ws, conn, link := dialPolledWebSocket(t, ts, rec)
	defer ws.Close()
	pc := link.pc.Load()
	if pc.rc == nil {
		// The poller took the socket after the open packet's write: it
		// is given the passed deadline such a write leaves.
		_ = pc.sock.SetWriteDeadline(time.Now())
	}
	eventually(t, "the open packet's write deadline to pass", func() bool {
		if pc.rc == nil {
			return pc.sock.writeDeadlinePassed()
		}
		return errors.Is((*pc.rc).Write(func(uintptr) bool { return true }), os.ErrDeadlineExceeded)
	})

	handedBefore := ts.srv.flush.handedOver.Load()
	for _, msg := range []string{"after a while", "and again"} {
		if err := conn.Send(Message{Data: []byte(msg)}); err != nil {
			t.Fatal(err)
		}
		expectText(t, ws, "4"+msg)
	}
	if n := ts.srv.flush.handedOver.Load() - handedBefore; n != 0 {
		t.Errorf("%d of 2 writes to the idle socket were handed to a writer goroutine", n)
	}
}

// dialPolledWebSocket opens a WebSocket session on ts, whose Open rec
// records, and waits until the event loop reads it.
func dialPolledWebSocket(t *testing.T, ts *testServer, rec *recorder) (*fws.Conn, Conn, *wsLink) {
	t.Helper()
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	readOpen(t, ws)
	conn := rec.nextConn(t)
	link := conn.(*session).ws
	eventually(t, "the poller to read the WebSocket", func() bool { return link.pc.Load() != nil })
	return ws, conn, link
}
