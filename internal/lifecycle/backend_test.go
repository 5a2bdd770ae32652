package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/lifecycle/lifecycletest"
)

// startBackend serves the hooks' backend (see lifecycletest) until the
// test ends.
func startBackend(t testing.TB) *lifecycletest.Backend[Event] {
	t.Helper()
	return lifecycletest.Start[Event](t)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastOptions are Sender options for tests: short intervals and retries.
func fastOptions(url string) Options {
	return Options{
		URL: url, Node: "n1", BatchSize: 10, BatchInterval: 20 * time.Millisecond,
		Timeout: 2 * time.Second, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	}
}

// closeSender closes s when the test ends.
func closeSender(t testing.TB, s *Sender) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
}
