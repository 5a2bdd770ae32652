package admin

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

func TestRingKeepsTheLastRefusalsNewestFirst(t *testing.T) {
	ring := NewRing(3)
	start := time.Unix(1700000000, 0)
	for i := range 5 {
		ring.Add(Refusal{Time: start.Add(time.Duration(i) * time.Second), Code: fmt.Sprint("c", i)})
	}
	recent, total := ring.Recent()
	if total != 5 || len(recent) != 3 {
		t.Fatalf("total %d, %d kept; want 5 and 3", total, len(recent))
	}
	for i, want := range []string{"c4", "c3", "c2"} {
		if recent[i].Code != want {
			t.Errorf("recent[%d] = %s, want %s", i, recent[i].Code, want)
		}
	}
	if NewRing(0) != nil {
		t.Error("a ring of size 0 should be nil")
	}
	var off *Ring
	off.Add(Refusal{Code: "x"}) // a nil ring keeps nothing, without panicking
	if r, n := off.Recent(); r != nil || n != 0 {
		t.Errorf("nil ring: %v %d", r, n)
	}
}

func TestRingCutsAndCopiesWhatItKeeps(t *testing.T) {
	packet := strings.Repeat("é", 10_000) // what a client sent
	ring := NewRing(1)
	ring.Add(Refusal{Event: packet[:40], Reason: packet, Namespace: packet, Address: packet, Code: packet})
	recent, _ := ring.Recent()
	got := recent[0]
	for name, field := range map[string]string{"event": got.Event, "reason": got.Reason, "namespace": got.Namespace, "address": got.Address, "code": got.Code} {
		if !utf8.ValidString(field) {
			t.Errorf("%s cut inside a character: %q", name, field)
		}
		if len(field) > maxReasonBytes {
			t.Errorf("%s kept %d bytes", name, len(field))
		}
		if sharesMemory(field, packet) {
			t.Errorf("%s shares the packet's memory", name)
		}
	}
	if got.Event != packet[:40] {
		t.Errorf("a short event name is kept whole: %q", got.Event)
	}
}

// sharesMemory reports whether part points into whole's bytes.
func sharesMemory(part, whole string) bool {
	if len(part) == 0 {
		return false
	}
	p, w := uintptr(unsafe.Pointer(unsafe.StringData(part))), uintptr(unsafe.Pointer(unsafe.StringData(whole)))
	return p >= w && p < w+uintptr(len(whole))
}

func TestQuantilesInterpolateWithinTheirBucket(t *testing.T) {
	buckets := []Bucket{{LE: 0.001, Count: 50}, {LE: 0.01, Count: 90}, {LE: 0.1, Count: 100}}
	cases := []struct {
		q, want float64
	}{
		{0.5, 0.001},
		{0.7, 0.001 + 0.009*0.5},
		{0.95, 0.01 + 0.09*0.5},
		{1, 0.1},
	}
	for _, tc := range cases {
		if got := quantile(tc.q, buckets, 100); abs(got-tc.want) > 1e-12 {
			t.Errorf("q%.2f = %g, want %g", tc.q, got, tc.want)
		}
	}
	// Observations past the last bound: that bound.
	if got := quantile(0.99, buckets, 200); got != 0.1 {
		t.Errorf("past the last bound: %g", got)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestMergedEventsSumTheNodes(t *testing.T) {
	node := func(id string, ok uint64) NodeEvents {
		return NodeEvents{Node: id, Metrics: true, Events: []EventStat{{
			Namespace: "/chat", Event: "sendMessage", Total: ok + 1, Codes: map[string]uint64{"ok": ok, "invalid_payload": 1},
			Handlers: []HandlerLatency{{Handler: "broadcast", Count: ok, SumSeconds: float64(ok) * 0.002,
				Buckets: []Bucket{{LE: 0.001, Count: 0}, {LE: 0.0025, Count: ok}}}},
		}}}
	}
	merged := mergeEvents([]NodeEvents{node("b", 10), node("a", 30)})
	if len(merged.Events) != 1 || merged.Nodes[0] != "a" {
		t.Fatalf("%+v", merged)
	}
	e := merged.Events[0]
	if e.Total != 42 || e.Codes["ok"] != 40 || e.Codes["invalid_payload"] != 2 {
		t.Errorf("counts %+v", e)
	}
	h := e.Handlers[0]
	if h.Count != 40 || h.Buckets[1].Count != 40 || abs(h.MeanMs-2) > 1e-9 || h.P50Ms <= 1 || h.P99Ms > 2.5 {
		t.Errorf("latency %+v", h)
	}
}

func TestMergedConnectionsSumRoomsOverNodes(t *testing.T) {
	a := NodeConnections{Node: "a", Namespaces: []NamespaceView{{Namespace: "/chat", Sockets: 2, Rooms: []RoomSize{{"lobby", 2}}}},
		Sockets: []SocketInfo{{ID: "s1", Namespace: "/chat", Node: "a"}, {ID: "s2", Namespace: "/chat", Node: "a"}}}
	b := NodeConnections{Node: "b", Namespaces: []NamespaceView{{Namespace: "/chat", Sockets: 1, Rooms: []RoomSize{{"lobby", 1}, {"dev", 1}}}},
		Sockets: []SocketInfo{{ID: "s3", Namespace: "/chat", Node: "b"}}}
	merged := mergeConnections("a", []NodeConnections{a, b})
	if len(merged.Nodes) != 2 || !merged.Nodes[0].Self || merged.Nodes[1].Namespaces["/chat"] != 1 {
		t.Errorf("nodes %+v", merged.Nodes)
	}
	ns := merged.Namespaces[0]
	if ns.Sockets != 3 || len(ns.Rooms) != 2 || ns.Rooms[0] != (RoomSize{"lobby", 3}) || ns.Rooms[1] != (RoomSize{"dev", 1}) {
		t.Errorf("namespace %+v", ns)
	}
	if len(merged.Sockets) != 3 {
		t.Errorf("sockets %+v", merged.Sockets)
	}
}
