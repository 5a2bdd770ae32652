package roster

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// TestTrackerHoldsOneEntryPerUserAndRoomWhileRedisHangs has users join and
// leave rooms about 200000 times while the redis-server is stalled (SIGSTOP), as
// clients churning rooms during a Redis outage do: the calls never wait,
// what waits to be told stays at most one entry per (room, user), the heap
// stays within a budget, and once Redis answers again the record holds
// exactly the users left in the rooms.
func TestTrackerHoldsOneEntryPerUserAndRoomWhileRedisHangs(t *testing.T) {
	url, proc := redisServer(t)
	r := newRedis(t, url)
	tr := NewTracker(Options{Record: r, Lease: 3 * time.Second, CallTimeout: 200 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	tr.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Close(ctx)
	}()
	if err := proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// An odd number of rounds of every (room, user): the last joins.
	const users, rooms, changes = 50, 4, 999 * 50 * 4
	before := heapInUse()
	for i := 0; i < changes; i++ {
		user, room := fmt.Sprintf("u%02d", i%users), fmt.Sprintf("room-%d", (i/users)%rooms)
		if (i/(users*rooms))%2 == 0 {
			tr.Joined("/chat", room, user, "sock-"+user, []byte(`{"name":"x"}`), true)
		} else {
			tr.Left("/chat", room, user)
		}
	}
	last := (changes - 1) / (users * rooms)
	joinedAtEnd := last%2 == 0
	if p := tr.Pending(); p > users*rooms+1 {
		t.Fatalf("%d changes wait to be told, want at most one per (room, user): %d", p, users*rooms)
	}
	if tracked := tr.Tracked(); tracked > 2*users*rooms {
		t.Fatalf("%d keys tracked, want at most %d", tracked, 2*users*rooms)
	}
	if grew := int64(heapInUse()) - int64(before); grew > 1<<20 {
		t.Fatalf("the heap grew by %d bytes over %d changes for %d keys", grew, changes, users*rooms)
	}
	if err := proc.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tr.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d changes still untold after Redis came back", tr.Pending())
		}
		time.Sleep(20 * time.Millisecond)
	}
	queries := make([]adapter.PresenceQuery, 0, rooms)
	for k := 0; k < rooms; k++ {
		queries = append(queries, adapter.PresenceQuery{Namespace: "/chat", Room: fmt.Sprintf("room-%d", k)})
	}
	counts, err := r.PresenceRead(context.Background(), queries)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	if joinedAtEnd {
		want = users
	}
	for k, n := range counts {
		if n != want {
			t.Fatalf("room-%d holds %d users in the record, want %d", k, n, want)
		}
	}
}
