package lifecycle

import (
	"runtime"
	"strings"
	"testing"
)

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// An attacker who can make events with long names (rooms it joins, say)
// while the backend is down must not grow the buffer past its byte budget,
// whatever its count budget allows.
func TestSenderBufferHoldsNoMoreThanItsByteBudgetWhenEventsAreLarge(t *testing.T) {
	b := startBackend(t)
	b.Stop()
	const budget = 2 << 20
	opts := fastOptions(b.URL())
	opts.Buffer = 100000
	opts.BufferBytes = budget
	s := NewSender(opts)
	s.Start()
	closeSender(t, s)
	before := heapInUse()
	const events, roomSize = 4000, 16 << 10 // 64 MiB offered
	for i := range events {
		// A fresh string each time, as a room name decoded from a client's
		// packet would be.
		room := strings.Repeat(string(rune('a'+i%26)), roomSize)
		s.Emit(Event{Type: KindRoomOccupied, Namespace: "/chat", Room: room})
	}
	grown := int64(heapInUse()) - int64(before)
	st := s.Stats()
	if st.BufferedBytes > budget {
		t.Errorf("buffer counts %d bytes, over its %d budget", st.BufferedBytes, budget)
	}
	if st.Overflowed == 0 || st.Buffered+int(st.Overflowed) != events {
		t.Errorf("stats %+v: want every event that did not fit counted as overflow", st)
	}
	// The budget, the batch being retried (a copy of at most 10 events and
	// its JSON body) and the process's own noise.
	const allowed = budget + 10*2*roomSize + 2<<20
	if grown > allowed {
		t.Errorf("heap grew %d bytes for a %d-byte buffer budget (allowed %d)", grown, budget, allowed)
	}
	t.Logf("offered %d MiB; buffered %d events, %d bytes; heap grew %d KiB", events*roomSize>>20, st.Buffered, st.BufferedBytes, grown>>10)
}
