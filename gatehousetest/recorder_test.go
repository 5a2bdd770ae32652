package gatehousetest_test

import (
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// The recorder is shared by a handler's concurrent calls: every action is
// kept, none torn (run under -race).
func TestRecorderKeepsConcurrentActions(t *testing.T) {
	s := gatehousetest.NewRecorder(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				room := string(rune('a' + w))
				_ = s.Emit("e", i)
				_ = s.Join(room)
				_ = s.Broadcast(t.Context(), gatehouse.Broadcast{Event: "b"})
				_ = s.Rooms()
				_ = s.Leave(room)
			}
		}()
	}
	wg.Wait()
	if len(s.Emits()) != workers*each || len(s.Broadcasts()) != workers*each ||
		len(s.Joins()) != workers*each || len(s.Leaves()) != workers*each {
		t.Errorf("%d emits, %d broadcasts, %d joins, %d leaves; want %d each",
			len(s.Emits()), len(s.Broadcasts()), len(s.Joins()), len(s.Leaves()), workers*each)
	}
	if rooms := s.Rooms(); len(rooms) != 0 {
		t.Errorf("rooms = %v after every join was left", rooms)
	}
}
