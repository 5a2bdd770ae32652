package lifecycle

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// queued lists the types of the events waiting in s.
func queued(s *Sender) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.queue {
		out = append(out, ev.Type)
	}
	return out
}

func TestHooksSendNothingForASocketThatLeftBeforeItsConnectWasSent(t *testing.T) {
	s := NewSender(Options{URL: "http://127.0.0.1:1/", Node: "n"})
	h := New(s, nil, RoomsOptions{})
	var p Presence
	h.Disconnected(&p, "/chat", "s1", "alice", "transport close") // the close won the race
	h.Connected(&p, "/chat", "s1", "alice")
	if got := queued(s); len(got) != 0 {
		t.Fatalf("events %v, want none: a disconnect without its connect, or a connect after it", got)
	}
}

func TestHooksSendADisconnectOnlyAfterItsConnect(t *testing.T) {
	tests := []struct {
		name  string
		kinds []string
		want  []string
	}{
		{"all kinds", nil, []string{KindConnect, KindDisconnect}},
		{"disconnects only", []string{KindDisconnect}, []string{KindDisconnect}},
		{"connects only", []string{KindConnect}, []string{KindConnect}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSender(Options{URL: "http://127.0.0.1:1/", Node: "n"})
			h := New(s, tt.kinds, RoomsOptions{})
			var p Presence
			h.Connected(&p, "/chat", "s1", "alice")
			h.Disconnected(&p, "/chat", "s1", "alice", "transport close")
			h.Disconnected(&p, "/chat", "s1", "alice", "transport close") // once only
			if got := queued(s); len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 1 && got[1] != tt.want[1]) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			if tt.kinds != nil && h.TracksRooms() {
				t.Error("rooms are tracked though no room kind is wanted")
			}
		})
	}
}

func TestHooksLeaveNoGoroutineOnceClosed(t *testing.T) {
	url := startRedis(t)
	b := startBackend(t)
	// After the Redis process and the backend, whose goroutines are the
	// test's own.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, err := adapter.NewRedis(adapter.RedisOptions{URL: url, Prefix: "gh-leak"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h := New(NewSender(fastOptions(b.URL())), nil, RoomsOptions{Occupancy: a, NodeTimeout: 3 * time.Second})
	h.Start()
	var p Presence
	h.Connected(&p, "/chat", "s1", "alice")
	h.RoomChanged("/chat", "lobby", true)
	// Recorded before it empties: a room that fills and empties before
	// Redis is told sends nothing.
	eventually(t, 5*time.Second, "lobby recorded", func() bool { return h.RoomsPending() == 0 })
	h.RoomChanged("/chat", "lobby", false)
	h.Disconnected(&p, "/chat", "s1", "alice", "transport close")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(b.Received()); got != 4 {
		t.Errorf("backend got %d events before Close returned, want 4", got)
	}
	b.Stop()
	_ = a.Close()
}
