package engineio

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"
)

func TestNoGoroutineLeftAfterSessionsClose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ownConns bool
	}{
		{"server owns hijacked connections", true},
		{"fasthttp closes hijacked connections", false},
	} {
		t.Run(tc.name, func(t *testing.T) { testNoGoroutineLeft(t, tc.ownConns) })
	}
}

func testNoGoroutineLeft(t *testing.T, ownConns bool) {
	rec := newRecorder(true)
	ts := startServerOwning(t, ownConns, Options{}, rec)
	// One request makes sure the HTTP server's own goroutines run; whatever
	// runs then belongs to the server, not to sessions.
	ts.do(t, http.MethodGet, ts.url("EIO=4&transport=none"), "", nil)
	before := goleak.IgnoreCurrent()

	// A polling session that the client closes.
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ts.post(t, sid, "4ping")
	rec.expectMessage(t, "ping", false)
	if got := ts.poll(t, sid); got.body != "4ping" {
		t.Fatalf("GET answered %q", got.body)
	}
	ts.post(t, sid, "1")
	rec.expectClose(t, "transport close")

	// A WebSocket session that the client drops.
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	readOpen(t, ws)
	rec.nextConn(t)
	ws.Close()
	rec.expectClose(t, "transport close")

	// A session upgraded from polling, closed by the server.
	sid = ts.handshakePolling(t).SID
	conn := rec.nextConn(t)
	pending := ts.asyncPoll(t, sid)
	up := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	writeText(t, up, "2probe")
	expectText(t, up, "3probe")
	receive(t, pending)
	writeText(t, up, "5")
	eventually(t, "the upgrade", func() bool { return conn.Transport() == TransportWebSocket })
	conn.Close("forced close")
	rec.expectClose(t, "forced close")
	expectClosed(t, up)
	up.Close()

	eventually(t, "every session finished", func() bool {
		ts.srv.alive.mu.Lock()
		defer ts.srv.alive.mu.Unlock()
		return ts.srv.alive.running == 0
	})
	ts.client.CloseIdleConnections()
	goleak.VerifyNone(t, before,
		// Idle fasthttp workers wait for the next connection; a handler
		// still blocked in a long poll would show its own frame on top.
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
	)
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d", n)
	}
}
