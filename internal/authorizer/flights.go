package authorizer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse"
)

// flightKey names one call: the hash of the request and why it is made,
// so that a refresh never waits on, nor answers, a connect.
type flightKey struct {
	key    [32]byte
	reason string
}

// flights runs at most max distinct calls at once, and one call for
// identical requests made while it runs: a reconnect storm of the same
// clients costs the backend one call per client, not one per attempt.
type flights struct {
	mu    sync.Mutex
	calls map[flightKey]*flight
	slots chan struct{}
	// joined counts the callers that joined a call in progress.
	joined atomic.Int64
}

// flight is one call in progress; done closes when e or err is set.
type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

func newFlights(max int) *flights {
	return &flights{calls: map[flightKey]*flight{}, slots: make(chan struct{}, max)}
}

// do returns the answer of the call for k, starting it with fn unless one
// is in progress. The call runs on a goroutine of its own, bounded by its
// timeout, so that a caller whose ctx ends (its client went away) leaves
// the others an answer; that caller gets ctx's error.
func (f *flights) do(ctx context.Context, k flightKey, fn func() (*entry, error)) (*entry, error) {
	f.mu.Lock()
	fl, joined := f.calls[k]
	if joined {
		f.joined.Add(1)
	} else {
		select {
		case f.slots <- struct{}{}:
		default:
			f.mu.Unlock()
			return nil, gatehouse.Errorf(gatehouse.CodeUnavailable,
				"too many authorizations are waiting on the authorizer; try again shortly")
		}
		fl = &flight{done: make(chan struct{})}
		f.calls[k] = fl
	}
	f.mu.Unlock()
	if !joined {
		go f.run(k, fl, fn)
	}
	select {
	case <-fl.done:
		return fl.e, fl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("authorizer: gave up waiting: %w", ctx.Err())
	}
}

func (f *flights) run(k flightKey, fl *flight, fn func() (*entry, error)) {
	defer func() { <-f.slots }()
	fl.e, fl.err = fn()
	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(fl.done)
}
