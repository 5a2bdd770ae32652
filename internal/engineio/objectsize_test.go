package engineio

import (
	"testing"
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
