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
	if e := t.open[ip]; e != nil {
		return e.n
	}
	return 0
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

	// The place goes back when the socket is closed, which may come just
	// after the session is gone: wait for it rather than race it.
	_ = ws1.Close()
	waitForSessions(t, g, 1)
	waitForPlaces(t, g, 1, "once one of two WebSockets ended")
	_ = ws2.Close()
	waitForSessions(t, g, 0)
	waitForPlaces(t, g, 0, "once both WebSockets ended")

	// The address has its whole limit again, and no more.
	g.dial(t, "/a")
	g.dial(t, "/a")
	dialSilent(t, g.addr)
	if !refusedAtAccept(t, dialSilent(t, g.addr)) {
		t.Fatal("a fourth connection from the address was not refused once its taken WebSockets ended")
	}
}

// The release a connection hands over with its socket is its address's
// entry's, shared by the address's connections: each call gives one place
// back, and the entry goes with the last.
func TestAddressEntryReleaseGivesOnePlaceBack(t *testing.T) {
	perIP := newTCPConnsPerIP(2)
	if !perIP.acquire("10.0.0.1") || !perIP.acquire("10.0.0.1") || !perIP.acquire("10.0.0.2") {
		t.Fatal("a place under the limit was refused")
	}
	if perIP.acquire("10.0.0.1") {
		t.Fatal("a third place of 10.0.0.1 was given under a limit of 2")
	}
	first, second := perIP.releaser("10.0.0.1"), perIP.releaser("10.0.0.1")
	if first == nil || second == nil {
		t.Fatal("no release for an address with places held")
	}
	first()
	if n := perIP.openConnsOf("10.0.0.1"); n != 1 {
		t.Fatalf("%d places held after one release of two, want 1", n)
	}
	if !perIP.acquire("10.0.0.1") || perIP.acquire("10.0.0.1") {
		t.Fatal("the place given back was not given again exactly once")
	}
	second()
	perIP.release("10.0.0.1")
	if n := perIP.openConnsOf("10.0.0.1"); n != 0 {
		t.Fatalf("%d places held after every place was given back, want 0", n)
	}
	if n := perIP.openConnsOf("10.0.0.2"); n != 1 {
		t.Fatalf("another address holds %d places, want 1", n)
	}
	if perIP.releaser("10.0.0.1") != nil {
		t.Fatal("a release for an address with no place held")
	}
	perIP.mu.Lock()
	entries := len(perIP.open)
	perIP.mu.Unlock()
	if entries != 1 {
		t.Fatalf("%d address entries, want 1 (the entry goes with its last place)", entries)
	}
}

// waitForPlaces waits until 127.0.0.1 holds want places under
// max_tcp_connections_per_ip, for at most limitsWait.
func waitForPlaces(t *testing.T, g *liveGateway, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for {
		n := g.gw.tcpConns.openConnsOf("127.0.0.1")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d places held %s, want %d", n, when, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
