package gateway

import (
	"testing"
	"time"
)

// openConnsOf is how many connections of ip hold a place under
// max_tcp_connections_per_ip.
func (t *tcpConnsPerIP) openConnsOf(ip string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open[ip]
}

// A plain WebSocket's socket is taken by the Engine.IO poller from under
// the listener's wrapper (DetachSocket): its address's place is kept while
// the WebSocket lives and given back once when it ends, not at the
// take-over and not twice (which would let the address open one more
// connection than its limit).
func TestTakenWebSocketGivesItsAddressPlaceBackOnce(t *testing.T) {
	g := startEdgeGateway(t, 3)
	ws1 := g.dial(t, "/a")
	ws2 := g.dial(t, "/a")
	// Both are read by the poller once their namespace is connected.
	if n := g.gw.tcpConns.openConnsOf("127.0.0.1"); n != 2 {
		t.Fatalf("%d places held by two WebSockets, want 2", n)
	}

	_ = ws1.Close()
	waitForSessions(t, g, 1)
	if n := g.gw.tcpConns.openConnsOf("127.0.0.1"); n != 1 {
		t.Fatalf("%d places held once one of two WebSockets ended, want 1", n)
	}
	_ = ws2.Close()
	waitForSessions(t, g, 0)
	deadline := time.Now().Add(limitsWait)
	for g.gw.tcpConns.openConnsOf("127.0.0.1") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d places held once both WebSockets ended", g.gw.tcpConns.openConnsOf("127.0.0.1"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
