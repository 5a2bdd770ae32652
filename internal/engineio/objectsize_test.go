package engineio

import (
	"testing"
	"time"
	"unsafe"
)

// TestSessionFitsItsBudget keeps the session's own fields, which every
// connection holds for its whole life, within their budget: what only a
// probe or a move needs is in transit, made when one starts. With its
// parts, a session opened on a WebSocket is one object (wsSession), kept
// within the 512-byte size class: the link's and the poller record's
// fields that only closing, a waiting writer or the runtime's read path
// need are records made when needed.
func TestSessionFitsItsBudget(t *testing.T) {
	budgets := []struct {
		name         string
		size, budget uintptr
	}{
		{"session", unsafe.Sizeof(session{}), 240},
		{"link (wsLink)", unsafe.Sizeof(wsLink{}), 88},
		{"poller record (pollConn)", unsafe.Sizeof(pollConn{}), 184},
		{"socket (fdConn)", unsafe.Sizeof(fdConn{}), 56},
		{"WebSocket session (wsSession)", unsafe.Sizeof(wsSession{}), 512},
	}
	for _, b := range budgets {
		t.Logf("%s: %d bytes", b.name, b.size)
		if b.size > b.budget {
			t.Errorf("a %s is %d bytes, over its budget of %d", b.name, b.size, b.budget)
		}
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
	// The writer hands the ping's batch back after the client has it: the
	// pong is answered once it has, as between two pings of an idle session.
	eventually(t, "the ping's batch to be handed back", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ws.written == s.ws.taken && !s.ws.writing
	})
	writeText(t, ws, "3")
	eventually(t, "the queue's arrays to be let go at the pong", func() bool {
		queue, spare := arrays()
		return !queue && !spare
	})

	// They come back when needed.
	writeText(t, ws, "4again")
	expectText(t, ws, "4again")
}
