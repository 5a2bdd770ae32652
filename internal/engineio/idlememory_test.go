package engineio

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestIdleWebSocketSessionHeapPerConnection holds idle WebSocket sessions
// read by the poller and measures the live heap they add. The clients are
// bare TCP connections that write the upgrade and then only hold the
// connection, so nearly all of the figure is the server's: the session
// with its link, poller record and timer in one object, the handshake's
// headers, the socket and the indexes, and the client's socket. About
// 1,675 bytes were measured (1,890 while each session had a time.Timer of
// its own and four objects where one is now); the budget catches a
// per-session timer, fasthttp's hijack wrapper or a buffer coming back.
func TestIdleWebSocketSessionHeapPerConnection(t *testing.T) {
	const (
		conns  = 1000
		budget = 1792 // bytes per idle connection, the client's socket included
	)
	ts := startServer(t, Options{ReadPath: ReadPathPoller, PingInterval: time.Hour, PingTimeout: time.Hour}, idleHandler{})
	request := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + ts.addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	held := make([]net.Conn, 0, conns+1)
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	buf := make([]byte, 1024)
	hold := func() {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		if _, err := conn.Write(request); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(waitLimit))
		var got []byte
		for !bytes.Contains(got, []byte(`0{"sid"`)) {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("no open packet: %v; got %q", err, got)
			}
		}
		_ = conn.SetReadDeadline(time.Time{})
	}
	hold() // warms the pools and the first-use allocations
	eventually(t, "the first session to be handed to the poller", func() bool { return polled(ts) == 1 })
	before := heapAlloc()
	for range conns {
		hold()
	}
	eventually(t, "every session to be handed to the poller", func() bool { return polled(ts) == conns+1 })
	per := (heapAlloc() - before) / conns
	t.Logf("live heap per idle WebSocket session: %d bytes", per)
	if per > budget {
		t.Fatalf("an idle WebSocket session holds %d bytes of heap, over the %d budget", per, budget)
	}
}

// polled is how many connections the poller reads.
func polled(ts *testServer) int {
	ts.srv.poll.mu.Lock()
	defer ts.srv.poll.mu.Unlock()
	return len(ts.srv.poll.conns)
}

// heapAlloc is the live heap after a full collection; unlike memoryInUse
// it leaves out the stacks, which the HTTP server's idle workers hold for a
// while after a burst of connections.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
