package gateway

import (
	"sync"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// maxQueuedEvents bounds how many events of one socket may wait behind a
// slow handler; past it, events are refused as rate_limited.
const maxQueuedEvents = 256

// serial runs one socket's events one after another, off the session's read
// path. It holds a goroutine only while work is queued.
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

// errQueueFull answers events refused because the socket's queue is full.
var errQueueFull = gatehouse.Errorf(gatehouse.CodeRateLimited, "too many events waiting for this socket; slow down")
