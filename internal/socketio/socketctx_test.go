package socketio

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A socket's context is part of the socket; contexts derived from it must
// still end with it, and leave nothing behind in it once they are done.
func TestSocketContextEndsWhatDerivesFromIt(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{}))
	s := tc.join(h, "/")
	ctx := s.Context()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err = %v on a connected socket", err)
	}
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("a socket's context has a deadline")
	}

	// Derived and done before the socket ends: nothing stays registered.
	for range 100 {
		child, cancel := context.WithCancel(ctx)
		cancel()
		<-child.Done()
	}
	s.mu.Lock()
	registered := len(s.extras().afterEnd)
	s.mu.Unlock()
	if registered != 0 {
		t.Fatalf("%d functions still registered after their contexts ended", registered)
	}

	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(ctx, time.Hour)
	defer cancelTimed()
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })
	done := ctx.Done()

	tc.send("1") // the client leaves the namespace
	for name, c := range map[string]context.Context{"the socket's": ctx, "WithCancel": child, "WithTimeout": timed} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s context not done after the socket left", name)
		}
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("%s context: Err = %v, want context.Canceled", name, c.Err())
		}
	}
	<-done // the channel taken before the end is the one closed
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("context.AfterFunc did not run after the socket left")
	}

	// Derived after the end: done at once.
	late, cancelLate := context.WithCancel(ctx)
	defer cancelLate()
	if !errors.Is(late.Err(), context.Canceled) {
		t.Fatalf("context derived after the end: Err = %v, want context.Canceled", late.Err())
	}
	lateRan := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(lateRan) })
	<-lateRan
	if stop() {
		t.Fatal("stop reported stopping a function that had run")
	}
}
