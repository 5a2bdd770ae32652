package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultBatchSize     = 100
	DefaultBatchInterval = time.Second
	DefaultBuffer        = 10000
	DefaultBufferBytes   = 8 << 20
	DefaultTimeout       = 5 * time.Second
	DefaultRetryMin      = 200 * time.Millisecond
	DefaultRetryMax      = 10 * time.Second
)

// logInterval spaces the log lines of one kind of trouble (overflow, failed
// posts): the first is logged at once, later ones at most once per interval
// with how many there were since.
const logInterval = 10 * time.Second

// Options configure a Sender.
type Options struct {
	// URL receives each batch as a POST with a JSON array body.
	URL string
	// Header is sent with every POST (an Authorization, say).
	Header http.Header
	// Node names this gateway process in the events and their IDs.
	Node string
	// BatchSize is the most events in one POST.
	BatchSize int
	// BatchInterval is how long the first event of a batch waits for
	// others before the batch is sent anyway.
	BatchInterval time.Duration
	// Buffer and BufferBytes bound the events waiting, in number and in
	// bytes (see Event.size); what would exceed either is counted as
	// overflow and dropped.
	Buffer      int
	BufferBytes int
	// Timeout bounds one POST.
	Timeout time.Duration
	// RetryMin and RetryMax bound the wait before a failed POST is tried
	// again; it doubles from one to the other, with jitter.
	RetryMin, RetryMax time.Duration
	// MaxAttempts gives up on a batch (counted as failed) after that many
	// posts; 0 retries until the batch is delivered or the Sender closes.
	MaxAttempts int
	// Client posts the batches (a client with Timeout when nil).
	Client *http.Client
	// Logger receives overflow and delivery trouble (discarded when nil).
	Logger *slog.Logger
	// Now is the clock of the events' times (time.Now when nil).
	Now func() time.Time
}

// Stats are the Sender's counts since it started.
type Stats struct {
	// Buffered and BufferedBytes are what waits now, the batch being
	// posted included.
	Buffered      int
	BufferedBytes int
	// Delivered events were accepted by the backend (a 2xx answer).
	Delivered uint64
	// Overflowed events did not fit the buffer and were dropped.
	Overflowed uint64
	// Rejected events were in a batch the backend refused with a 4xx
	// other than 408 and 429, which a retry would not change.
	Rejected uint64
	// Abandoned events were in a batch that failed MaxAttempts times, or
	// were still buffered when Close gave up.
	Abandoned uint64
	// FailedPosts counts the posts that failed and were retried.
	FailedPosts uint64
}

// Sender buffers lifecycle events and posts them to a backend in batches,
// from one goroutine, in the order they were emitted. Emit never blocks.
type Sender struct {
	opts Options

	mu          sync.Mutex
	queue       []Event
	queuedBytes int
	seq         uint64
	closing     bool
	closed      bool

	wake     chan struct{}
	closeReq chan struct{}
	done     chan struct{}
	// cancel ends run; nil until Start.
	cancel context.CancelFunc

	delivered, overflowed, rejected, abandoned, failedPosts atomic.Uint64

	overflowLog, failureLog throttle
}

// NewSender returns a Sender that buffers what is emitted; Start begins
// posting.
func NewSender(opts Options) *Sender {
	return &Sender{
		opts:     withDefaults(opts),
		wake:     make(chan struct{}, 1),
		closeReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Start begins posting, from a goroutine that runs until Close. Calls
// after the first do nothing.
func (s *Sender) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.closing {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
}

func withDefaults(opts Options) Options {
	setDefault(&opts.BatchSize, DefaultBatchSize)
	setDefault(&opts.BatchInterval, DefaultBatchInterval)
	setDefault(&opts.Buffer, DefaultBuffer)
	setDefault(&opts.BufferBytes, DefaultBufferBytes)
	setDefault(&opts.Timeout, DefaultTimeout)
	setDefault(&opts.RetryMin, DefaultRetryMin)
	setDefault(&opts.RetryMax, DefaultRetryMax)
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Emit appends ev to the buffer and reports whether it fit. It sets the
// event's ID, Node and Seq, and its Time when zero. It does not wait: an
// event that would exceed the buffer, or that comes after Close, is
// counted as overflow and logged (throttled).
func (s *Sender) Emit(ev Event) bool {
	if ev.Time.IsZero() {
		ev.Time = s.opts.Now()
	}
	ev.Node = s.opts.Node
	s.mu.Lock()
	s.seq++
	ev.Seq = s.seq
	ev.ID = s.opts.Node + "-" + strconv.FormatUint(s.seq, 10)
	size := ev.size()
	if s.closed || len(s.queue) >= s.opts.Buffer || s.queuedBytes+size > s.opts.BufferBytes {
		buffered := len(s.queue)
		s.mu.Unlock()
		s.overflowed.Add(1)
		if n, ok := s.overflowLog.tick(s.opts.Now()); ok {
			s.opts.Logger.Warn("lifecycle hooks buffer full: events dropped",
				"dropped", n, "buffered", buffered, "type", ev.Type)
		}
		return false
	}
	s.queue = append(s.queue, ev)
	s.queuedBytes += size
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// Stats returns the Sender's counts.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	buffered, bytes := len(s.queue), s.queuedBytes
	s.mu.Unlock()
	return Stats{
		Buffered: buffered, BufferedBytes: bytes,
		Delivered: s.delivered.Load(), Overflowed: s.overflowed.Load(),
		Rejected: s.rejected.Load(), Abandoned: s.abandoned.Load(),
		FailedPosts: s.failedPosts.Load(),
	}
}

// Close posts what is buffered, retrying as usual, until the buffer is
// empty or ctx ends; then the events left are counted as abandoned and
// logged. Events emitted after Close count as overflow.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	first, started := !s.closing, s.cancel != nil
	s.closing = true
	s.mu.Unlock()
	if first {
		close(s.closeReq)
	}
	if started {
		select {
		case <-s.done:
		case <-ctx.Done():
			s.cancel()
			<-s.done
		}
	}
	s.mu.Lock()
	left := len(s.queue)
	s.queue, s.queuedBytes, s.closed = nil, 0, true
	s.mu.Unlock()
	if left > 0 {
		s.abandoned.Add(uint64(left))
		s.opts.Logger.Warn("lifecycle hooks not delivered before shutdown", "events", left)
		return fmt.Errorf("lifecycle hooks: %d events not delivered: %w", left, ctx.Err())
	}
	return nil
}

// run posts batches until Close has emptied the buffer or ctx ends.
func (s *Sender) run(ctx context.Context) {
	defer close(s.done)
	for {
		batch := s.nextBatch(ctx)
		if batch == nil {
			return
		}
		if !s.deliver(ctx, batch) {
			return
		}
		s.dropFront(len(batch))
	}
}

// nextBatch waits until a batch is due: BatchSize events are waiting, the
// first of them has waited BatchInterval, or the Sender is closing. It
// returns a copy of the batch, left in the buffer until delivered, or nil
// when there is nothing more to do.
func (s *Sender) nextBatch(ctx context.Context) []Event {
	var due <-chan time.Time
	intervalOver := false
	for {
		s.mu.Lock()
		n, closing := len(s.queue), s.closing
		if n >= s.opts.BatchSize || (n > 0 && (closing || intervalOver)) {
			batch := slices.Clone(s.queue[:min(n, s.opts.BatchSize)])
			s.mu.Unlock()
			return batch
		}
		s.mu.Unlock()
		if n == 0 && closing {
			return nil
		}
		if n > 0 && due == nil {
			timer := time.NewTimer(s.opts.BatchInterval)
			defer timer.Stop()
			due = timer.C
		}
		select {
		case <-s.wake:
		case <-due:
			intervalOver = true
		case <-s.closeReq:
		case <-ctx.Done():
			return nil
		}
	}
}

// dropFront removes the first n events, delivered or given up on.
func (s *Sender) dropFront(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		s.queuedBytes -= s.queue[i].size()
		s.queue[i] = Event{} // lets the strings go before the array does
	}
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
}

// deliver posts batch until the backend accepts or refuses it, or
// MaxAttempts posts failed. It reports false when ctx ended first, leaving
// the batch buffered.
func (s *Sender) deliver(ctx context.Context, batch []Event) bool {
	body, err := encodeBatch(batch)
	if err != nil {
		// Events are strings and a time: this cannot happen, but a batch
		// that cannot be encoded must not stop the others.
		s.rejected.Add(uint64(len(batch)))
		s.opts.Logger.Error("lifecycle hooks batch not encodable", "error", err)
		return true
	}
	wait := s.opts.RetryMin
	for attempt := 1; ; attempt++ {
		err := s.post(ctx, body)
		switch {
		case err == nil:
			s.delivered.Add(uint64(len(batch)))
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, errRejected):
			s.rejected.Add(uint64(len(batch)))
			s.opts.Logger.Warn("lifecycle hooks batch refused by the backend", "events", len(batch), "error", err)
			return true
		}
		s.failedPosts.Add(1)
		if n, ok := s.failureLog.tick(s.opts.Now()); ok {
			s.opts.Logger.Warn("lifecycle hooks post failed; retrying", "failures", n, "attempt", attempt, "error", err)
		}
		if s.opts.MaxAttempts > 0 && attempt >= s.opts.MaxAttempts {
			s.abandoned.Add(uint64(len(batch)))
			return true
		}
		if !sleep(ctx, jitter(wait)) {
			return false
		}
		wait = min(2*wait, s.opts.RetryMax)
	}
}

// errRejected marks an answer that a retry would not change.
var errRejected = errors.New("refused")

// post sends one batch; an error wraps errRejected when the backend
// refused it for good.
func (s *Sender) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s: %w: %w", s.opts.URL, errRejected, err)
	}
	for name, values := range s.opts.Header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", s.opts.URL, err)
	}
	// Read a little of the answer so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("post %s: status %d", s.opts.URL, code)
	default:
		return fmt.Errorf("post %s: status %d: %w", s.opts.URL, code, errRejected)
	}
}

// jitter spreads retries of several nodes between d/2 and d.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, reporting false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// throttle lets one log line through per logInterval and counts the
// occurrences in between.
type throttle struct {
	mu     sync.Mutex
	count  uint64
	logged time.Time
}

// tick counts one occurrence and reports whether to log now, with how many
// occurrences the line stands for.
func (t *throttle) tick(now time.Time) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count++
	if !t.logged.IsZero() && now.Sub(t.logged) < logInterval {
		return 0, false
	}
	n := t.count
	t.count, t.logged = 0, now
	return n, true
}
