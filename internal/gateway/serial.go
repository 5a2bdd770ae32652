package gateway

import (
	"context"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// serial runs one socket's events one after another. An event that cannot
// block runs at once on the caller's goroutine (the session's read path)
// when nothing of the socket is queued; any other event, or one arriving
// behind queued work, goes to a queue drained by a goroutine that lives
// only while work is queued. Either way the socket's events keep their
// order.
//
// The queue is bounded by count (socketio.MaxQueuedEvents) and by the
// bytes of the events it holds, the one running included, so that a client
// pipelining large events behind a slow handler cannot make the gateway
// hold more than server.limits.max_queued_bytes_per_socket for it.
type serial struct {
	mu      sync.Mutex
	queue   []queuedJob
	running bool
	bytes   int64 // held by queued jobs and the one running
}

// queuedJob is one piece of queued work and the bytes it holds until done.
type queuedJob struct {
	run  func()
	size int64
}

// serialFor returns the socket's executor, creating it on first use.
func serialFor(s *socketio.Socket) *serial { return loadOrCreate(&stateOf(s).serial) }

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

// run queues job, which holds no bytes of the client's (an answer already
// decided, say); it reports false when the queue is full.
func (q *serial) run(job func()) bool {
	return q.park(job, 0, 0) == nil
}

// park queues job, which holds size bytes until it has run. It refuses
// with socketio.ErrQueuedEvents when the queue is full and with
// socketio.ErrQueuedBytes when the job would take the bytes held past
// limit (no limit when zero). A job is taken whatever its size when
// nothing else holds bytes, so any event the transport accepted can run.
func (q *serial) park(job func(), size, limit int64) error {
	q.mu.Lock()
	if len(q.queue) >= socketio.MaxQueuedEvents {
		q.mu.Unlock()
		return socketio.ErrQueuedEvents
	}
	if limit > 0 && q.bytes > 0 && q.bytes+size > limit {
		q.mu.Unlock()
		return socketio.ErrQueuedBytes
	}
	q.queue = append(q.queue, queuedJob{run: job, size: size})
	q.bytes += size
	if q.running {
		q.mu.Unlock()
		return nil
	}
	q.running = true
	q.mu.Unlock()
	go q.drain()
	return nil
}

func (q *serial) drain() {
	var done int64 // bytes of the job just run, released with the next lock
	for {
		q.mu.Lock()
		q.bytes -= done
		if len(q.queue) == 0 {
			q.running = false
			q.queue = nil
			q.mu.Unlock()
			return
		}
		job := q.queue[0]
		q.queue[0] = queuedJob{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		job.run()
		done = job.size
	}
}

// eventMayBlock reports whether handling event, looked up as t, may wait
// on something outside the process, so that it must not run on the
// session's read path. Unknown events are answered at once; a token
// refresh may fetch keys; any other event blocks when one of its guards or
// handlers says it may (gatehouse.Blocking), which each instance answers
// knowing from its host whether the cluster is distributed: a broadcast on
// the memory adapter stays on the read path, one on Redis does not.
func (gw *Gateway) eventMayBlock(event string, t eventTarget) bool {
	if event == eventAuthRefresh {
		return true
	}
	return t.ev != nil && t.ev.mayBlock
}

// park queues an admitted event behind the socket's earlier work. The
// event's leading guards that cannot block and do not read what earlier
// events change (guards.OnArrival: max_size, schema, a memory rate_limit)
// run first, here on the read path, so that an event they refuse never
// holds queue room or bytes: its refusal alone waits its turn, keeping the
// socket's answers in order. An event over the queue's count
// or bytes is refused at once, with rate_limited or payload_too_large.
func (gw *Gateway) park(ctx context.Context, s *socketio.Socket, q *serial, t eventTarget, event string, args gatehouse.Args, ack socketio.AckFunc) {
	passed, err := gw.runCheapGuards(ctx, s, t, event, args)
	if err != nil {
		gw.endEventSpan(ctx, err)
		gw.refuseInOrder(s, q, t, event, ack, err)
		return
	}
	job := func() {
		defer gw.inFlight.done()
		defer t.release()
		gw.dispatchParked(ctx, s, t, passed, event, args, ack)
	}
	limit := int64(t.st.cfg.Server.Limits.MaxQueuedBytesPerSocket)
	if err := q.park(job, socketio.EventBytes(event, args), limit); err != nil {
		t.release()
		gw.inFlight.done()
		gw.endEventSpan(ctx, err)
		limitName, _ := gatehouse.AsError(err).Data["limit"].(string)
		gw.refusals.refused(limitName, "namespace", s.Namespace(), "ip", s.RemoteIP())
		gw.answer(s, event, ack, nil, err)
	}
}

// runCheapGuards runs the leading guards of t's chain that cannot block and
// reports how many passed.
func (gw *Gateway) runCheapGuards(ctx context.Context, s *socketio.Socket, t eventTarget, event string, args gatehouse.Args) (int, error) {
	if t.ev == nil || t.ev.cheapGuards == 0 || event == eventAuthRefresh {
		return 0, nil
	}
	ec := &eventCall{}
	ec.payload.Reset(args.First())
	ec.in = guards.Input{Socket: s, Namespace: t.ns.name, Event: event, Payload: &ec.payload, Args: args}
	chain := t.ev.guards[:t.ev.cheapGuards]
	if err := gw.runGuards(ctx, chain, &ec.in); err != nil {
		return 0, err
	}
	return len(chain), nil
}

// refuseInOrder answers an admitted event refused before it was queued,
// after the socket's earlier events, holding nothing of the event but its
// name cut short; when even the refusal cannot be queued it goes at once.
func (gw *Gateway) refuseInOrder(s *socketio.Socket, q *serial, t eventTarget, event string, ack socketio.AckFunc, err error) {
	name := strings.Clone(socketio.ClipName(event))
	refuse := func() {
		defer gw.inFlight.done()
		defer t.release()
		gw.answerEvent(s, t, name, ack, nil, err)
	}
	if q.enterInline() {
		refuse()
		q.leaveInline()
		return
	}
	if !q.run(refuse) {
		refuse()
	}
}
