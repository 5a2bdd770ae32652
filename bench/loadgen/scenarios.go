package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// options are the knobs of one run; every scenario is bounded by count
// (conns, and the duration or the sends it implies) and by time (timeout).
type options struct {
	scenario    string
	target      string // label of the server in the output: gatehouse, node, bare
	addr        string // host:port, loopback only
	path        string
	namespace   string
	secret      string
	conns       int           // N (connect, hold, fanout receivers) or K (ack)
	concurrency int           // connections opened at once
	duration    time.Duration // sending phase of ack and fanout; holding time of hold
	rate        float64       // offered events (ack) or messages (fanout) per second; 0 is closed loop
	window      int           // closed loop: events in flight per connection (ack), messages in flight (fanout)
	pid         int           // hold: the server process whose RSS is read
	perSource   int           // connections per source address
	// senders, fanout: connections taking turns to send (users 0 to
	// senders-1), each at most senderRate messages/s with bursts of
	// senderBurst (0: unpaced).
	senders                 int
	senderRate, senderBurst float64
	variant                 string        // what differs on the server side, e.g. "recovery"; recorded as is
	redisAddr               string        // fanout: redis-server whose commands per message are counted
	timeout                 time.Duration // bound on the whole run
}

// result is the figures of one run, printed as one JSON line.
type result struct {
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Mode     string  `json:"mode,omitempty"` // closed or rate (ack, fanout)
	Conns    int     `json:"conns"`
	Offered  float64 `json:"offered_per_s,omitempty"`
	// Window is the closed loop's events in flight: per connection (ack)
	// or in all (fanout).
	Window  int     `json:"window,omitempty"`
	Seconds float64 `json:"seconds"`
	// OK counts what succeeded: connections (connect, hold), acks (ack),
	// deliveries (fanout).
	OK     int64 `json:"ok"`
	Errors int64 `json:"errors"`
	// Lost is what was expected and never came (acks, deliveries).
	Lost    int64   `json:"lost"`
	Sent    int64   `json:"sent,omitempty"`
	Rate    float64 `json:"rate_per_s"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	P999ms  float64 `json:"p999_ms"`
	Held    int64   `json:"held,omitempty"`
	RSSPre  int64   `json:"rss_before_kib,omitempty"`
	RSSPost int64   `json:"rss_after_kib,omitempty"`
	RSSConn float64 `json:"rss_per_conn_kib,omitempty"`
	// Senders and SenderRate, fanout: the connections sending in turn
	// and the messages/s each kept to (0: unpaced).
	Senders    int     `json:"senders,omitempty"`
	SenderRate float64 `json:"sender_rate,omitempty"`
	// Variant is what differs on the server side from the plain run
	// ("recovery", "redis", "redis+recovery"), as the -variant flag said.
	Variant string `json:"variant,omitempty"`
	// ServerCPU is the CPU seconds (user and system) the server used
	// during a fan-out run, when its pid was given.
	ServerCPU float64 `json:"server_cpu_s,omitempty"`
	// ServerWrites is the write system calls the server made during a
	// fan-out run (syscw of /proc/PID/io), when its pid was given: each
	// carries one or more deliveries to one connection.
	ServerWrites int64 `json:"server_writes,omitempty"`
	// RedisCalls, fanout with -redis: commands redis-server ran per
	// message sent, and the commands behind them (name=calls per message).
	RedisCalls  float64 `json:"redis_calls_per_msg,omitempty"`
	RedisDetail string  `json:"redis_detail,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// drainTime bounds the wait for acks and deliveries still on their way
// when the sending phase ends.
const drainTime = 5 * time.Second

// run executes the scenario opts.scenario.
func run(ctx context.Context, opts options) (result, error) {
	if opts.conns <= 0 {
		return result{}, errors.New("conns must be positive")
	}
	opts.concurrency = max(opts.concurrency, 1)
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	e, err := newEndpoint(opts.addr, opts.path, opts.namespace, opts.secret, opts.perSource)
	if err != nil {
		return result{}, err
	}
	res := result{Scenario: opts.scenario, Target: opts.target, Conns: opts.conns, Variant: opts.variant}
	switch opts.scenario {
	case "connect":
		err = runConnect(ctx, e, opts, &res)
	case "hold":
		err = runHold(ctx, e, opts, &res)
	case "ack":
		err = runAck(ctx, e, opts, &res)
	case "fanout":
		err = runFanout(ctx, e, opts, &res)
	default:
		return result{}, fmt.Errorf("unknown scenario %q (connect, hold, ack, fanout)", opts.scenario)
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

// pool is a set of open connections, each with its read loop running.
type pool struct {
	clients []*client
	readers sync.WaitGroup
	alive   atomic.Int64
}

func (p *pool) closeAll() {
	for _, c := range p.clients {
		if c != nil {
			c.close()
		}
	}
	p.readers.Wait()
}

// openPool opens n connections, concurrency at a time, with user numbers
// first, first+1, ... Each successful one runs readLoop with the handler
// newHandler(k) returns for its index k. It records connect latencies in
// lat and returns the pool, the failures and the first failure's error.
func openPool(ctx context.Context, e *endpoint, first, n, concurrency int, lat *samples,
	newHandler func(k int, c *client) func([]byte),
) (*pool, int64, error) {
	tokens, err := e.tokens(first + n)
	if err != nil {
		return nil, 0, err
	}
	p := &pool{clients: make([]*client, n)}
	var next, failures atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Go(func() {
			var batch []time.Duration
			defer func() { lat.add(batch) }()
			for {
				k := int(next.Add(1) - 1)
				if k >= n || ctx.Err() != nil {
					return
				}
				start := time.Now()
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				c, err := e.connect(dctx, first+k, tokens[first+k])
				cancel()
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				batch = append(batch, time.Since(start))
				p.clients[k] = c
				var handler func([]byte)
				if newHandler != nil {
					handler = newHandler(k, c)
				}
				p.alive.Add(1)
				p.readers.Go(func() {
					defer p.alive.Add(-1)
					_ = c.readLoop(handler)
				})
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return p, failures.Load(), *e
	}
	return p, failures.Load(), ctx.Err()
}

func fillLatency(res *result, lat *samples) {
	res.P50ms, res.P99ms, res.P999ms = lat.percentiles()
}

// runConnect opens N connections at concurrency C, to the namespace
// CONNECT ack, and keeps them open until all are made.
func runConnect(ctx context.Context, e *endpoint, opts options, res *result) error {
	var lat samples
	start := time.Now()
	p, failures, err := openPool(ctx, e, 0, opts.conns, opts.concurrency, &lat, nil)
	elapsed := time.Since(start)
	if p != nil {
		defer p.closeAll()
		res.OK = p.alive.Load()
	}
	res.Errors = failures
	res.Seconds = elapsed.Seconds()
	res.Rate = float64(res.OK) / elapsed.Seconds()
	fillLatency(res, &lat)
	return err
}

// runHold opens N idle connections, holds them for opts.duration, and
// reads the server's RSS before and after.
func runHold(ctx context.Context, e *endpoint, opts options, res *result) error {
	if opts.pid <= 0 {
		return errors.New("hold needs the server's pid (-pid)")
	}
	before, err := rssKiB(opts.pid)
	if err != nil {
		return fmt.Errorf("rss of pid %d: %w", opts.pid, err)
	}
	var lat samples
	start := time.Now()
	p, failures, openErr := openPool(ctx, e, 0, opts.conns, opts.concurrency, &lat, nil)
	elapsed := time.Since(start)
	if p != nil {
		defer p.closeAll()
	}
	res.Errors = failures
	res.OK = p.alive.Load()
	res.Rate = float64(res.OK) / elapsed.Seconds()
	fillLatency(res, &lat)
	select {
	case <-time.After(opts.duration):
	case <-ctx.Done():
	}
	res.Held = p.alive.Load()
	after, err := rssKiB(opts.pid)
	if err != nil {
		return fmt.Errorf("rss of pid %d: %w", opts.pid, err)
	}
	res.Seconds = time.Since(start).Seconds()
	res.RSSPre, res.RSSPost = before, after
	if res.Held > 0 {
		res.RSSConn = float64(after-before) / float64(res.Held)
	}
	return openErr
}

// inFlight is one event waiting for its ack: its id and the time it was
// due (sent, in the closed loop).
type inFlight struct {
	id  int64
	due time.Time
}

// ackConn tracks the events one connection has in flight and what came
// back. Its read loop does the bookkeeping (and, in the closed loop, the
// next send), so an ack costs no goroutine switch, channel or timer.
type ackConn struct {
	c  *client
	mu sync.Mutex
	// slots, closed loop: the window's events, event id in slot
	// (id-1) % window. An acked slot is refilled with id + window, so
	// ids stay unique and the lookup is one index, not a map.
	slots []inFlight
	// ring, open loop: the events sent by the pacing goroutine.
	ring dueRing
	// sending is false once the connection stops sending (end of the
	// sending phase, a failed write).
	sending bool
	// end is the end of the sending phase: no event is due after it.
	end               time.Time
	sent, acked, errs int64
	// queued counts the closed loop's events framed but not yet written.
	queued  int64
	lastAck time.Time
	batch   []time.Duration
}

// runAck has K connections send whoami with an ack: closed loop (opts.window
// events in flight per connection, a new one sent as soon as one is acked)
// when opts.rate is 0, otherwise open loop at opts.rate events per second
// in total, latency counted from the time each event was due (so a late
// send counts against the server too).
func runAck(ctx context.Context, e *endpoint, opts options, res *result) error {
	prefix := []byte("43" + e.namespace + ",")
	window := max(opts.window, 1)
	closedLoop := opts.rate <= 0
	conns := make([]*ackConn, opts.conns)
	var stopped atomic.Bool
	var connectLat samples
	p, failures, err := openPool(ctx, e, 0, opts.conns, opts.concurrency, &connectLat, func(k int, c *client) func([]byte) {
		a := &ackConn{c: c}
		if closedLoop {
			a.slots = make([]inFlight, window)
			c.onIdle = a.flush
		}
		conns[k] = a
		return func(msg []byte) {
			id := ackID(msg, prefix)
			if id <= 0 {
				return
			}
			now := time.Now()
			if closedLoop {
				a.ackAndSend(id, now, int64(window), stopped.Load())
			} else {
				a.ack(id, now)
			}
		}
	})
	if p != nil {
		defer p.closeAll()
	}
	if err != nil {
		res.Errors = failures
		return fmt.Errorf("open %d connections: %w", opts.conns, err)
	}
	res.Mode, res.Offered = "closed", opts.rate
	if !closedLoop {
		res.Mode = "rate"
	} else {
		res.Window = window
	}
	start := time.Now()
	end := start.Add(opts.duration)
	if closedLoop {
		for _, a := range conns {
			a.startWindow(start, end)
		}
		t := time.NewTimer(time.Until(end))
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		stopped.Store(true)
	} else {
		var wg sync.WaitGroup
		for k, a := range conns {
			wg.Go(func() { a.pace(ctx, start, end, k, opts.conns, opts.rate) })
		}
		wg.Wait()
	}
	totals := func() (sent, acked, errs int64, last time.Time) {
		for _, a := range conns {
			a.mu.Lock()
			sent, acked, errs = sent+a.sent, acked+a.acked, errs+a.errs
			if a.lastAck.After(last) {
				last = a.lastAck
			}
			a.mu.Unlock()
		}
		return sent, acked, errs, last
	}
	waitFor(ctx, func() bool { s, a, _, _ := totals(); return a >= s }, drainTime)
	sent, acked, errs, finish := totals()
	var lat samples
	for _, a := range conns {
		a.mu.Lock()
		lat.add(a.batch)
		a.mu.Unlock()
	}
	res.Sent, res.OK = sent, acked
	res.Lost = res.Sent - res.OK
	res.Errors = errs
	if finish.Before(start) {
		finish = time.Now()
	}
	res.Seconds = finish.Sub(start).Seconds()
	res.Rate = float64(res.OK) / res.Seconds
	fillLatency(res, &lat)
	return ctx.Err()
}

// startWindow sends the closed loop's first window of events, all due now;
// the read loop sends the next ones until end.
func (a *ackConn) startWindow(now, end time.Time) {
	a.mu.Lock()
	a.sending, a.end = true, end
	for i := range a.slots {
		a.slots[i] = inFlight{id: int64(i) + 1, due: now}
	}
	a.mu.Unlock()
	for i := range a.slots {
		if !a.send(int64(i)+1, i) {
			return
		}
	}
}

// send emits event id and counts it; on failure the connection stops
// sending and the event's slot (slot >= 0) is emptied.
func (a *ackConn) send(id int64, slot int) bool {
	err := a.c.emit(id, `["whoami"]`)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.errs++
		a.sending = false
		if slot >= 0 && a.slots[slot].id == id {
			a.slots[slot] = inFlight{}
		}
		return false
	}
	a.sent++
	return true
}

// ackAndSend records the ack of event id received at now and, unless
// stop, queues the event that takes its place in the window, due now.
// The read loop writes what is queued (flush) as soon as no further
// message is buffered: with one event in flight per connection that is
// at once, with more, the replacements of the acks that came in one read
// leave in one write, as the acks did. Their due time stays the ack's
// arrival, so the few microseconds until the write count against the
// server, never for it.
func (a *ackConn) ackAndSend(id int64, now time.Time, window int64, stop bool) {
	slot := int((id - 1) % window)
	a.mu.Lock()
	f := a.slots[slot]
	if f.id != id {
		a.mu.Unlock() // not in flight: a duplicate or a stranger
		return
	}
	a.batch = append(a.batch, now.Sub(f.due))
	a.acked++
	a.lastAck = now
	next := id + window
	if stop || !a.sending || now.After(a.end) {
		a.slots[slot] = inFlight{}
		a.mu.Unlock()
		return
	}
	a.slots[slot] = inFlight{id: next, due: now}
	a.queued++
	a.mu.Unlock()
	a.c.queueEvent(next, `["whoami"]`)
}

// flush writes the events ackAndSend queued and counts them as sent; on
// failure the connection stops sending. It runs in the read loop.
func (a *ackConn) flush() {
	if len(a.c.queued) == 0 {
		return
	}
	err := a.c.flushQueued()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.errs++
		a.sending = false
	} else {
		a.sent += a.queued
	}
	a.queued = 0
}

// ack records the ack of event id of the open loop, received at now.
func (a *ackConn) ack(id int64, now time.Time) {
	a.mu.Lock()
	if due, ok := a.ring.take(id); ok {
		a.batch = append(a.batch, now.Sub(due))
		a.acked++
		a.lastAck = now
	}
	a.mu.Unlock()
}

// pace is connection k's sender of the open loop: one event every
// conns/rate seconds, offset so that the connections take turns, until
// the next one would be due after end.
func (a *ackConn) pace(ctx context.Context, start, end time.Time, k, conns int, rate float64) {
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	next := start.Add(interval * time.Duration(k) / time.Duration(conns))
	for id := int64(1); ctx.Err() == nil; id++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		due := next
		next = next.Add(interval)
		if due.After(end) {
			return
		}
		a.mu.Lock()
		a.ring.push(id, due)
		a.mu.Unlock()
		if !a.send(id, -1) {
			return
		}
	}
}

// dueRing holds the due times of the open loop's events in flight on one
// connection, by id: ids are issued in order, so the ones in flight lie
// between base and the last pushed, and a ring indexed by id replaces a
// map. Acks out of order are fine; a lost one only keeps base back.
type dueRing struct {
	base, next int64 // ids in [base, next) may be in flight
	due        []time.Time
}

// push adds event id, due at t; ids come in increasing order.
func (r *dueRing) push(id int64, t time.Time) {
	if r.base == 0 {
		r.base, r.next = id, id
	}
	if id < r.next {
		return
	}
	if need := id - r.base + 1; need > int64(len(r.due)) {
		size := max(len(r.due)*2, 16)
		for int64(size) < need {
			size *= 2
		}
		grown := make([]time.Time, size)
		for i := r.base; i < r.next; i++ {
			grown[i&int64(size-1)] = r.due[i&int64(len(r.due)-1)]
		}
		r.due = grown
	}
	for i := r.next; i < id; i++ {
		r.due[i&int64(len(r.due)-1)] = time.Time{}
	}
	r.due[id&int64(len(r.due)-1)] = t
	r.next = id + 1
}

// take removes event id and returns its due time, or false if it is not
// in flight.
func (r *dueRing) take(id int64) (time.Time, bool) {
	if id < r.base || id >= r.next {
		return time.Time{}, false
	}
	mask := int64(len(r.due) - 1)
	t := r.due[id&mask]
	if t.IsZero() {
		return time.Time{}, false
	}
	r.due[id&mask] = time.Time{}
	for r.base < r.next && r.due[r.base&mask].IsZero() {
		r.base++
	}
	return t, true
}

// waitFor polls done until it holds, limit passes or ctx ends.
func waitFor(ctx context.Context, done func() bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for !done() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}
