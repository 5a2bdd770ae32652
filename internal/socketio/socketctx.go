package socketio

import (
	"context"
	"time"
)

// socketContext is a Socket seen as its context.Context (see
// Socket.Context): a type of its own, so that the context's methods are
// not the Socket's. It is kept in the Socket's fields rather than made by
// context.WithCancel, which would cost every idle socket two more objects
// (96 bytes). Contexts derived from it learn of its end through AfterFunc,
// as they do from any context that has one, so that none of them needs a
// goroutine to watch it.
type socketContext Socket

var _ context.Context = (*socketContext)(nil)

// Deadline implements context.Context: a socket's context has none.
func (c *socketContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Value implements context.Context: a socket's context carries no values.
func (c *socketContext) Value(any) any { return nil }

// Done implements context.Context. The channel is made on first use, as
// context.WithCancel's is.
func (c *socketContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := (*Socket)(c).extras()
	if x.done == nil {
		x.done = make(chan struct{})
		if (*Socket)(c).has(flagEnded) {
			close(x.done)
		}
	}
	return x.done
}

// Err implements context.Context: context.Canceled once the socket ended.
func (c *socketContext) Err() error {
	if (*Socket)(c).has(flagEnded) {
		return context.Canceled
	}
	return nil
}

// String names the context in the output of its derived contexts.
func (c *socketContext) String() string { return "socketio.Socket.Context" }

// AfterFunc has f run in a goroutine of its own once the socket ended, and
// returns a function that cancels that unless f started already, as
// context.AfterFunc does; the context package calls it for every context
// derived from this one.
func (c *socketContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if (*Socket)(c).has(flagEnded) {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	key := &f
	x := (*Socket)(c).extras()
	if x.afterEnd == nil {
		x.afterEnd = make(map[*func()]struct{}, 1)
	}
	x.afterEnd[key] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, waiting := x.afterEnd[key]
		delete(x.afterEnd, key)
		if len(x.afterEnd) == 0 {
			x.afterEnd = nil // not kept by a socket whose derived contexts are done
		}
		return waiting
	}
}

// end ends the context once: Done is closed, Err is context.Canceled and
// what AfterFunc registered starts.
func (c *socketContext) end() {
	c.mu.Lock()
	if (*Socket)(c).has(flagEnded) {
		c.mu.Unlock()
		return
	}
	(*Socket)(c).set(flagEnded)
	var afterEnd map[*func()]struct{}
	if x := c.more.Load(); x != nil {
		if x.done != nil {
			close(x.done)
		}
		afterEnd, x.afterEnd = x.afterEnd, nil
	}
	c.mu.Unlock()
	for f := range afterEnd {
		go (*f)()
	}
}
