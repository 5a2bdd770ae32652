package gateway

import (
	"sync"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// maxQueuedEvents bounds how many events of one socket may wait behind a
// slow handler; past it, events are refused as rate_limited.
const maxQueuedEvents = 256

// serial runs one socket's events one after another. An event that cannot
// block runs at once on the caller's goroutine (the session's read path)
// when nothing of the socket is queued; any other event, or one arriving
// behind queued work, goes to a queue drained by a goroutine that lives
// only while work is queued. Either way the socket's events keep their
// order.
type serial struct {
	mu      sync.Mutex
	queue   []func()
	running bool
}

const serialKey = "gatehouse.serial"

// serialFor returns the socket's executor, creating it on first use.
func serialFor(s *socketio.Socket) *serial {
	if q, ok := s.Get(serialKey).(*serial); ok {
		return q
	}
	q := &serial{}
	s.Set(serialKey, q)
	return q
}

// enterInline claims the executor for work run on the calling goroutine
// unless earlier work of the socket is queued or running, in which case it
// reports false: the caller queues its work with run instead, behind that
// work. After true, the caller runs its work and then calls leaveInline.
// Running in place saves a goroutine start and the growth of its stack per
// event.
func (q *serial) enterInline() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running {
		return false
	}
	q.running = true
	return true
}

// leaveInline ends work begun with enterInline.
func (q *serial) leaveInline() {
	q.mu.Lock()
	if len(q.queue) == 0 {
		q.running = false
		q.queue = nil
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	// Work was queued meanwhile from another goroutine; it may block, so
	// it is drained off this one.
	go q.drain()
}

// run queues job; it reports false when the queue is full.
func (q *serial) run(job func()) bool {
	q.mu.Lock()
	if len(q.queue) >= maxQueuedEvents {
		q.mu.Unlock()
		return false
	}
	q.queue = append(q.queue, job)
	if q.running {
		q.mu.Unlock()
		return true
	}
	q.running = true
	q.mu.Unlock()
	go q.drain()
	return true
}

func (q *serial) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			q.queue = nil
			q.mu.Unlock()
			return
		}
		job := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		job()
	}
}

// eventMayBlock reports whether handling event, looked up as t, may wait
// on something outside the process, so that it must not run on the
// session's read path. Unknown events are answered at once; a token
// refresh may fetch keys; and with a cluster adapter every broadcast is a
// network call.
func (gw *Gateway) eventMayBlock(event string, t eventTarget) bool {
	if event == eventAuthRefresh || gw.cluster.distributed() {
		return true
	}
	return t.ev != nil && t.ev.mayBlock
}

// errQueueFull answers events refused because the socket's queue is full.
var errQueueFull = gatehouse.Errorf(gatehouse.CodeRateLimited, "too many events waiting for this socket; slow down")
