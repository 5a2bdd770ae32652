package lifecycle

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// checkInOrder fails unless got holds exactly the events of seqs 1..n of
// one node, each once, in order.
func checkInOrder(t *testing.T, got []Event, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("backend got %d events, want %d", len(got), n)
	}
	for i, ev := range got {
		want := uint64(i + 1)
		if ev.Seq != want || ev.ID != ev.Node+"-"+strconv.FormatUint(want, 10) {
			t.Fatalf("event %d is seq %d id %q, want seq %d: out of order or repeated", i, ev.Seq, ev.ID, want)
		}
	}
}

func emitConnects(s *Sender, n int) {
	for i := range n {
		s.Emit(Event{Type: KindConnect, Namespace: "/chat", Socket: "s" + strconv.Itoa(i), User: "u"})
	}
}

func TestSenderPostsEveryEventOnceInOrderInBatches(t *testing.T) {
	b := startBackend(t)
	opts := fastOptions(b.URL())
	opts.Header = http.Header{"Authorization": {"Bearer hook-secret"}}
	s := NewSender(opts)
	s.Start()
	closeSender(t, s)
	emitConnects(s, 95)
	eventually(t, 5*time.Second, "95 events delivered", func() bool { return len(b.Received()) == 95 })
	checkInOrder(t, b.Received(), 95)
	if posts := b.Posts(); posts < 10 || posts > 95 {
		t.Errorf("95 events in %d posts, want batches of at most 10", posts)
	}
	if got := b.Header().Get("Authorization"); got != "Bearer hook-secret" {
		t.Errorf("Authorization header %q, want the configured one", got)
	}
	ev := b.Received()[0]
	if ev.Type != KindConnect || ev.Namespace != "/chat" || ev.Socket != "s0" || ev.User != "u" || ev.Node != "n1" || ev.Time.IsZero() {
		t.Errorf("first event %+v lacks a member", ev)
	}
	// The backend has them a moment before the Sender reads its answer.
	eventually(t, 5*time.Second, "95 counted delivered", func() bool { return s.Stats().Delivered == 95 })
	if st := s.Stats(); st.Delivered != 95 || st.Buffered != 0 || st.Overflowed != 0 {
		t.Errorf("stats %+v, want 95 delivered and nothing left", st)
	}
}

func TestSenderRetriesFailedPostsUntilTheBackendAccepts(t *testing.T) {
	b := startBackend(t)
	b.SetStatus(http.StatusServiceUnavailable)
	s := NewSender(fastOptions(b.URL()))
	s.Start()
	closeSender(t, s)
	emitConnects(s, 25)
	eventually(t, 5*time.Second, "a few failed posts", func() bool { return s.Stats().FailedPosts >= 3 })
	b.SetStatus(0)
	eventually(t, 5*time.Second, "25 events delivered", func() bool { return len(b.Received()) == 25 })
	checkInOrder(t, b.Received(), 25)
}

func TestSenderLosesNothingWithinTheBufferAcrossABackendRestart(t *testing.T) {
	b := startBackend(t)
	s := NewSender(fastOptions(b.URL()))
	s.Start()
	closeSender(t, s)
	emitConnects(s, 30)
	eventually(t, 5*time.Second, "the first events delivered", func() bool { return len(b.Received()) == 30 })
	b.Stop()
	emitConnects(s, 40) // while the backend is down: buffered, retried
	eventually(t, 5*time.Second, "posts failing", func() bool { return s.Stats().FailedPosts >= 2 })
	b.Restart()
	emitConnects(s, 30)
	eventually(t, 10*time.Second, "100 events delivered", func() bool { return len(b.Received()) == 100 })
	checkInOrder(t, b.Received(), 100)
	eventually(t, 5*time.Second, "100 counted delivered", func() bool { return s.Stats().Delivered == 100 })
	if st := s.Stats(); st.Overflowed != 0 || st.Delivered != 100 {
		t.Errorf("stats %+v, want 100 delivered, none overflowed", st)
	}
}

func TestSenderCountsWhatOverflowsTheBufferAndKeepsTheRest(t *testing.T) {
	b := startBackend(t)
	b.Stop()
	opts := fastOptions(b.URL())
	opts.Buffer = 20
	s := NewSender(opts)
	s.Start()
	closeSender(t, s)
	emitConnects(s, 50)
	if st := s.Stats(); st.Overflowed != 30 || st.Buffered != 20 {
		t.Fatalf("stats %+v, want 30 overflowed and 20 buffered", st)
	}
	b.Restart()
	eventually(t, 10*time.Second, "the 20 buffered events delivered", func() bool { return len(b.Received()) == 20 })
	checkInOrder(t, b.Received(), 20) // the first 20: the buffer keeps the oldest
	s.Emit(Event{Type: KindDisconnect, Namespace: "/chat"})
	eventually(t, 5*time.Second, "the next event", func() bool { return len(b.Received()) == 21 })
	if last := b.Received()[20]; last.Seq != 51 {
		t.Errorf("the event after the overflow is seq %d, want 51 (the gap tells the backend of the loss)", last.Seq)
	}
}

func TestSenderDropsABatchTheBackendRefusesForGood(t *testing.T) {
	b := startBackend(t)
	b.SetStatus(http.StatusBadRequest)
	s := NewSender(fastOptions(b.URL()))
	s.Start()
	closeSender(t, s)
	emitConnects(s, 10)
	eventually(t, 5*time.Second, "the batch refused", func() bool { return s.Stats().Rejected == 10 })
	if posts := b.Posts(); posts != 1 {
		t.Errorf("a refused batch was posted %d times, want once", posts)
	}
}

func TestSenderCloseDeliversWhatIsBuffered(t *testing.T) {
	b := startBackend(t)
	opts := fastOptions(b.URL())
	opts.BatchInterval = time.Hour // only Close sends them
	s := NewSender(opts)
	s.Start()
	emitConnects(s, 25)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkInOrder(t, b.Received(), 25)
	if s.Emit(Event{Type: KindConnect}) {
		t.Error("an event after Close was accepted")
	}
}

func TestSenderCloseGivesUpWithinItsBoundWhenTheBackendHangs(t *testing.T) {
	b := startBackend(t)
	b.SetHang()
	s := NewSender(fastOptions(b.URL()))
	s.Start()
	emitConnects(s, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	if err == nil {
		t.Fatal("Close reported success with the backend hanging")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %v, want about its 300ms bound", took)
	}
	if st := s.Stats(); st.Abandoned != 5 {
		t.Errorf("stats %+v, want the 5 buffered events abandoned", st)
	}
}

func TestSenderGivesUpABatchAfterMaxAttempts(t *testing.T) {
	b := startBackend(t)
	b.SetStatus(http.StatusBadGateway)
	opts := fastOptions(b.URL())
	opts.MaxAttempts = 3
	s := NewSender(opts)
	s.Start()
	closeSender(t, s)
	emitConnects(s, 10)
	eventually(t, 5*time.Second, "the batch abandoned", func() bool { return s.Stats().Abandoned == 10 })
	if posts := b.Posts(); posts != 3 {
		t.Errorf("posted %d times, want 3 attempts", posts)
	}
}
