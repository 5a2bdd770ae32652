package socketio

import (
	"context"
	"sync"
	"testing"
)

// recordingObserver keeps what an Observer is told.
type recordingObserver struct {
	mu         sync.Mutex
	broadcasts map[string][]int
	drops      []string
}

func (o *recordingObserver) Broadcast(namespace string, recipients int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.broadcasts == nil {
		o.broadcasts = map[string][]int{}
	}
	o.broadcasts[namespace] = append(o.broadcasts[namespace], recipients)
}

func (o *recordingObserver) QueueDropped(transport string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drops = append(o.drops, transport)
}

func TestObserverCountsBroadcastRecipientsAndQueueDrops(t *testing.T) {
	h := newTestHooks("/", "/chat")
	obs := &recordingObserver{}
	srv := newTestServer(h, Options{Observer: obs})
	first, fast, slow := connect(t, srv), connect(t, srv), connect(t, srv)
	first.join(h, "/")
	fastSocket := fast.join(h, "/")
	slow.join(h, "/")
	slow.conn.mu.Lock()
	slow.conn.queueFull = true
	slow.conn.mu.Unlock()

	if err := srv.Broadcast(context.Background(), "/", nil, nil, "tick"); err != nil {
		t.Fatal(err)
	}
	if d := h.awaitDisconnected(t); d.reason != "slow consumer" {
		t.Fatalf("slow socket disconnected with %q", d.reason)
	}
	// Once closed, the socket is no longer a recipient.
	if err := srv.Broadcast(context.Background(), "/", nil, []string{fastSocket.ID()}, "tock"); err != nil {
		t.Fatal(err)
	}
	// A namespace nobody joined yet still counts the broadcast.
	if err := srv.Broadcast(context.Background(), "/empty", nil, nil, "tick"); err != nil {
		t.Fatal(err)
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got := obs.broadcasts["/"]; len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Errorf("recipients of the broadcasts to / = %v, want [2 1]: the full queue is not a delivery", got)
	}
	if got := obs.broadcasts["/empty"]; len(got) != 1 || got[0] != 0 {
		t.Errorf("recipients of the broadcast to /empty = %v, want [0]", got)
	}
	if len(obs.drops) != 1 || obs.drops[0] != "websocket" {
		t.Errorf("queue drops = %v, want one on websocket", obs.drops)
	}
}
