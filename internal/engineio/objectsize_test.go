package engineio

import (
	"testing"
	"time"
	"unsafe"
)

// TestSessionFitsItsBudget keeps the session's own fields, which every
// connection holds for its whole life, within their budget: what only a
// probe or a move needs is in transit, made when one starts. With its
// parts, a session opened on a WebSocket is one object (wsSession), whose
// size class is logged.
func TestSessionFitsItsBudget(t *testing.T) {
	const budget = 240 // bytes
	size := unsafe.Sizeof(session{})
	t.Logf("session %d bytes; wsSession %d bytes (session, link %d, poller record %d)",
		size, unsafe.Sizeof(wsSession{}), unsafe.Sizeof(wsLink{}), unsafe.Sizeof(pollConn{}))
	if size > budget {
		t.Fatalf("a session is %d bytes, over its budget of %d", size, budget)
	}
}

// TestIdleWebSocketSessionLetsGoOfItsQueueArraysAtThePong: the arrays the
// queue and the writer keep for reuse are let go once the client answers
// a ping with nothing queued, so that an idle session keeps none.
func TestIdleWebSocketSessionLetsGoOfItsQueueArraysAtThePong(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{PingInterval: time.Hour, PingTimeout: time.Hour}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	s := rec.nextConn(t).(*session)
	writeText(t, ws, "4echo")
	expectText(t, ws, "4echo")

	arrays := func() (queue, spare bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return cap(s.queue) > 0, s.ws != nil && cap(s.ws.spare) > 0
	}
	eventually(t, "the written batch to be kept for reuse", func() bool { _, spare := arrays(); return spare })

	// The ping is due now (the heartbeat, run as its timer would).
	s.mu.Lock()
	ts.srv.timers.Cancel(&s.timer)
	s.due = ts.srv.timers.Now()
	s.mu.Unlock()
	s.onHeartbeat()
	expectText(t, ws, "2")
	writeText(t, ws, "3")
	eventually(t, "the queue's arrays to be let go at the pong", func() bool {
		queue, spare := arrays()
		return !queue && !spare
	})

	// They come back when needed.
	writeText(t, ws, "4again")
	expectText(t, ws, "4again")
}
