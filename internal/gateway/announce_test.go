package gateway

import (
	"runtime"
	"testing"
)

// TestAnnouncementsWaitingAreBoundedUnderAJoinFlood tells the announcer of
// 200000 joins and leaves of one real socket faster than they can be sent
// (as a client churning rooms on a busy node would): at most
// maxAnnouncements wait at any time, the rest are dropped and counted, and
// the heap held stays within a few MB rather than growing with the flood.
func TestAnnouncementsWaitingAreBoundedUnderAJoinFlood(t *testing.T) {
	g := startLiveGateway(t, presenceConfig("", 1000), Registries{})
	c, err := presenceClient(g, presenceToken(t, "mallory"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sockets := g.gw.sockets.Sockets("/chat")
	if len(sockets) != 1 {
		t.Fatalf("%d sockets", len(sockets))
	}
	a := newAnnouncer(g.gw)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	const flood = 200000
	most := 0
	// Held, so that nothing drains while the flood comes: the worst case.
	a.mu.Lock()
	a.draining = true
	a.mu.Unlock()
	for i := 0; i < flood; i++ {
		a.changed("/chat", "room-flood", sockets[0], i%2 == 0)
		if i%1000 == 0 {
			a.mu.Lock()
			most = max(most, len(a.queue))
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	most, dropped := max(most, len(a.queue)), a.dropped
	a.mu.Unlock()
	grew := int64(heap()) - int64(before)
	if most > maxAnnouncements || dropped != flood-maxAnnouncements {
		t.Fatalf("%d waiting at most, %d dropped; want at most %d waiting, %d dropped", most, dropped, maxAnnouncements, flood-maxAnnouncements)
	}
	if counted := g.gw.LimitRefusals()[limitPresenceAnnouncements]; counted != dropped {
		t.Errorf("%d counted among the refusals, %d dropped", counted, dropped)
	}
	// 4096 announcements of a few hundred bytes each, with a margin.
	if grew > 4<<20 {
		t.Fatalf("heap grew by %d bytes over the flood", grew)
	}
	a.mu.Lock()
	a.draining = false
	a.mu.Unlock()
}
