package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// stampMarker precedes the send time (Unix nanoseconds) in a fan-out
// message's text.
var stampMarker = []byte(`"t=`)

// fanoutCounts is what the receivers and senders of a fan-out run counted.
type fanoutCounts struct {
	delivered, lastDelivery, waitingFor atomic.Int64
	acked, ackErrors                    atomic.Int64
	progress                            chan struct{}
}

// onDelivery counts one message a receiver got, its latency in log.
func (f *fanoutCounts) onDelivery(log *latencyLog, msg []byte) {
	i := bytes.Index(msg, stampMarker)
	if i < 0 || len(msg) < 2 || msg[1] != '2' {
		return
	}
	stamp := leadingInt(msg[i+len(stampMarker):])
	if stamp < 0 {
		return
	}
	now := time.Now().UnixNano()
	log.add(time.Duration(now - stamp))
	f.lastDelivery.Store(now)
	if d := f.delivered.Add(1); d >= f.waitingFor.Load() {
		select {
		case f.progress <- struct{}{}:
		default:
		}
	}
}

// onAck counts a sender's ack; one without "ok":true (rate_limited, say)
// is an error.
func (f *fanoutCounts) onAck(prefix, msg []byte) {
	if ackID(msg, prefix) < 0 {
		return
	}
	f.acked.Add(1)
	if !bytes.Contains(msg, []byte(`"ok":true`)) {
		f.ackErrors.Add(1)
	}
}

// runFanout connects N receivers and S senders (opts.senders, users 0 to
// S-1; the receivers are users S to S+N-1). The senders take turns sending
// sendMessage with the send time in the text, and every receiver measures
// the delivery latency of each copy; the senders get every message too, as
// sendMessage goes to the whole namespace, but only the receivers' copies
// are counted. Closed loop: at most opts.window messages are in flight in
// all (sent but not yet delivered everywhere); with opts.rate, messages go
// at that rate in all. With opts.senderRate, no sender sends faster than
// its own token bucket (senderRate per second, bursts of senderBurst)
// allows, so a server's per-user rate limit at those values refuses
// nothing. With opts.pid, the server's CPU time and write calls over the
// run are read.
func runFanout(ctx context.Context, e *endpoint, opts options, res *result) error {
	n, senders := opts.conns, max(opts.senders, 1)
	window := int64(max(opts.window, 1))
	counts := &fanoutCounts{progress: make(chan struct{}, 1)}
	batches := make([]latencyLog, n)
	var connectLat samples
	receivers, failures, err := openPool(ctx, e, senders, n, opts.concurrency, &connectLat, func(k int, c *client) func([]byte) {
		log := &batches[k]
		return func(msg []byte) { counts.onDelivery(log, msg) }
	})
	if receivers != nil {
		defer receivers.closeAll()
	}
	if err != nil {
		res.Errors = failures
		return fmt.Errorf("open %d receivers: %w", n, err)
	}
	ackPrefix := []byte("43" + e.namespace + ",")
	senderPool, failures, err := openPool(ctx, e, 0, senders, opts.concurrency, &connectLat, func(int, *client) func([]byte) {
		return func(msg []byte) { counts.onAck(ackPrefix, msg) }
	})
	if senderPool != nil {
		defer senderPool.closeAll()
	}
	if err != nil {
		res.Errors = failures
		return fmt.Errorf("open %d senders: %w", senders, err)
	}
	res.Mode, res.Offered, res.Senders = "closed", opts.rate, senders
	if opts.rate > 0 {
		res.Mode = "rate"
	} else {
		res.Window = int(window)
	}
	if opts.senders > 1 {
		res.SenderRate = opts.senderRate
	}
	var redisBefore map[string]int64
	if opts.redisAddr != "" {
		if redisBefore, err = redisCommandStats(ctx, opts.redisAddr); err != nil {
			return err
		}
	}
	cpuBefore, cpuErr := cpuSeconds(opts.pid)
	writesBefore, writesErr := writeCalls(opts.pid)
	start := time.Now()
	sent, sendErrs := sendFanout(ctx, senderPool.clients, counts, opts, int64(n), window, start.Add(opts.duration))
	res.Errors += sendErrs
	expected := sent * int64(n)
	waitFor(ctx, func() bool { return counts.delivered.Load() >= expected && counts.acked.Load() >= sent }, drainTime)
	if cpuAfter, err := cpuSeconds(opts.pid); opts.pid > 0 && cpuErr == nil && err == nil {
		res.ServerCPU = cpuAfter - cpuBefore
	}
	if writesAfter, err := writeCalls(opts.pid); opts.pid > 0 && writesErr == nil && err == nil {
		res.ServerWrites = writesAfter - writesBefore
	}
	if redisBefore != nil {
		after, err := redisCommandStats(ctx, opts.redisAddr)
		if err != nil {
			return err
		}
		res.RedisCalls, res.RedisDetail = redisPerMessage(redisBefore, after, sent)
	}
	var lat samples
	for k := range batches {
		batches[k].mu.Lock()
		lat.add(batches[k].values)
		batches[k].mu.Unlock()
	}
	res.Sent = sent
	res.OK = counts.delivered.Load()
	res.Lost = max(expected-res.OK, 0) + (sent - counts.acked.Load())
	res.Errors += counts.ackErrors.Load()
	finish := time.Unix(0, counts.lastDelivery.Load())
	if finish.Before(start) {
		finish = time.Now()
	}
	res.Seconds = finish.Sub(start).Seconds()
	res.Rate = float64(res.OK) / res.Seconds
	fillLatency(res, &lat)
	return ctx.Err()
}

// sendFanout is the senders' loop until end: message id goes from sender
// (id-1) mod S, paced by opts.rate, or, closed loop, sent once all but
// window messages reached all n receivers; each sender keeps to its own
// bucket. It returns the messages sent and the failed sends.
func sendFanout(ctx context.Context, senders []*client, counts *fanoutCounts, opts options, n, window int64, end time.Time) (sent, errs int64) {
	buckets := make([]senderBucket, len(senders))
	for i := range buckets {
		buckets[i] = newSenderBucket(opts.senderRate, opts.senderBurst)
	}
	interval := time.Duration(0)
	if opts.rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.rate)
	}
	next := time.Now()
	for id := int64(1); ctx.Err() == nil && time.Now().Before(end); id++ {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
		} else if need := (id - window) * n; need > 0 {
			waitDelivered(ctx, counts, need)
		}
		k := int((id - 1) % int64(len(senders)))
		if d := buckets[k].wait(time.Now()); d > 0 {
			time.Sleep(d)
		}
		// Each sender numbers its own acks: message id is its
		// (id-1)/S+1-th.
		ackID := (id-1)/int64(len(senders)) + 1
		if err := senders[k].emitStamped(ackID, `["sendMessage",{"message":"t=`, time.Now().UnixNano(), `"}]`); err != nil {
			errs++
			break
		}
		sent++
	}
	return sent, errs
}

// waitDelivered waits until need deliveries were counted, or a second
// passes (a lost delivery must not stall the run), or ctx ends.
func waitDelivered(ctx context.Context, counts *fanoutCounts, need int64) {
	counts.waitingFor.Store(need)
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	for counts.delivered.Load() < need {
		select {
		case <-counts.progress:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// senderBucket is the token bucket a sender keeps to, the same as a
// server's per-user rate limit at rate per second and bursts of burst; a
// rate of 0 never waits.
type senderBucket struct {
	rate, burst, tokens float64
	at                  time.Time
}

func newSenderBucket(rate, burst float64) senderBucket {
	return senderBucket{rate: rate, burst: max(burst, 1), tokens: max(burst, 1)}
}

// wait takes a token at now and returns how long to wait before the send
// it allows: 0 when one was there.
func (b *senderBucket) wait(now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	if !b.at.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	}
	b.at = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	// The token is borrowed: the send waits until it has come in. A
	// small margin keeps the server's bucket, which sees the message a
	// little later but may round differently, from refusing it.
	return time.Duration(-b.tokens/b.rate*float64(time.Second)) + time.Millisecond
}

// latencyLog is the latencies one receiver measured; its read loop adds
// while the scenario may already be collecting.
type latencyLog struct {
	mu     sync.Mutex
	values []time.Duration
}

func (l *latencyLog) add(d time.Duration) {
	l.mu.Lock()
	if len(l.values) < maxSamples {
		l.values = append(l.values, d)
	}
	l.mu.Unlock()
}
