package gateway

import (
	"context"
	"sync"
	"time"
)

// drainReserve is the share of the shutdown grace kept, after waiting for
// events in flight, to close the sessions and the listener; at most
// maxDrainReserve.
const (
	drainReserve    = 4 // a quarter
	maxDrainReserve = 2 * time.Second
)

// inFlight counts the events that were admitted and have not finished,
// their acknowledgement sent. Unlike sync.WaitGroup it allows adding while
// someone waits, which events arriving during a drain do.
type inFlight struct {
	mu      sync.Mutex
	running int
	idle    []chan struct{}
}

func (f *inFlight) add() {
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
}

func (f *inFlight) done() {
	f.mu.Lock()
	f.running--
	if f.running == 0 {
		for _, ch := range f.idle {
			close(ch)
		}
		f.idle = nil
	}
	f.mu.Unlock()
}

// count is the number of events in flight.
func (f *inFlight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

// wait returns once no event is in flight, or with ctx's error.
func (f *inFlight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.running == 0 {
		f.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	f.idle = append(f.idle, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain is the first half of Shutdown: new sessions, CONNECTs and events
// are refused (closing is already set), and the events in flight get until
// shortly before ctx's deadline to finish and send their acknowledgements,
// which the sessions then flush as they close.
func (gw *Gateway) drain(ctx context.Context) {
	gw.engine.StopAccepting()
	waitCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(deadline)/drainReserve, maxDrainReserve)
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	pending := gw.inFlight.count()
	gw.logger.Info("draining", "events_in_flight", pending, "sessions", gw.engine.SessionCount())
	if err := gw.inFlight.wait(waitCtx); err != nil {
		gw.logger.Warn("drain: events still running are cut off", "events_in_flight", gw.inFlight.count())
		return
	}
	if pending > 0 {
		gw.logger.Info("drain: events in flight finished", "events", pending)
	}
}

// SessionCount is the number of open Engine.IO sessions (connections).
func (gw *Gateway) SessionCount() int { return gw.engine.SessionCount() }
