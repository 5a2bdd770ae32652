package adapter

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// A room keeps one old message while an attacker sends a million to
// another room of size 10: the messages that room's size drops leave
// nothing behind (no FIFO entry behind the old one), so the process holds
// the same however many are sent.
func TestMemoryHistoryHoldsNothingForMessagesARoomDropped(t *testing.T) {
	m := NewMemory(nil)
	ctx := context.Background()
	limits := HistoryLimits{Size: 10, TTL: time.Hour, MaxBytes: 64 << 20}
	msg := func() *Message {
		return &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "m", Args: []json.RawMessage{json.RawMessage(`1`)}}
	}
	if err := m.AppendHistory(ctx, "quiet", msg(), limits); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		return s.HeapAlloc
	}
	before := heap()
	const n = 1_000_000
	for range n {
		if err := m.AppendHistory(ctx, "busy", msg(), limits); err != nil {
			t.Fatal(err)
		}
	}
	held := int64(heap()) - int64(before)
	h := &m.history
	t.Logf("%d messages to one room of size 10: heap %+d KiB, FIFO %d entries", n, held>>10, len(h.fifo))
	if held > 1<<20 || len(h.fifo) > 2*11+64 {
		t.Errorf("%d messages to a room of size 10 hold %d KiB and %d FIFO entries, want under 1 MiB", n, held>>10, len(h.fifo))
	}
}
