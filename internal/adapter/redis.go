package adapter

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of RedisOptions.
const (
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultHealthInterval = time.Second
	DefaultRequestTimeout = 2 * time.Second
	// defaultIOTimeout bounds a Redis dial, read or write unless the URL
	// says otherwise, so that a hung Redis stalls a broadcast briefly, not
	// for go-redis's longer defaults.
	defaultIOTimeout = 2 * time.Second
)

// RedisOptions configure a Redis adapter.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port/db, rediss:// or unix://.
	URL string
	// Prefix starts every channel name (default "gatehouse").
	Prefix string
	// Logger receives connection state changes (discarded when nil).
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts, which doubles from one to the other.
	MinBackoff, MaxBackoff time.Duration
	// HealthInterval is how long the subscription may stay silent before
	// a PING checks it; a second silent interval counts as a lost
	// connection.
	HealthInterval time.Duration
	// RequestTimeout bounds Request when its context has no deadline.
	RequestTimeout time.Duration
	// Tracer, when set, makes a span of each message published to Redis,
	// under the span of the caller's context (the event that broadcast).
	Tracer trace.Tracer
}

// Redis is the adapter of a cluster that shares one Redis: other nodes are
// reached with PUBLISH on "<prefix>:cluster" (broadcasts, disconnects) and
// "<prefix>:request" (requests, answered on "<prefix>:answer:<node>").
//
// While Redis is unreachable, State is down with the cause, Send, Request
// and Publish fail at once with ErrUnavailable, and the dropped messages are
// counted in Errors: queueing them would replay stale broadcasts, out of
// order with live ones, once Redis returns, and would hold memory for as
// long as the outage lasts. The outage is logged once; one goroutine keeps
// reconnecting with capped exponential backoff.
type Redis struct {
	client *redis.Client
	// bounded is a second client on the same Redis whose calls end when
	// their context does (ContextTimeoutEnabled): the callers that wait on
	// Redis in an event's path (the shared store) bound their wait with a
	// deadline shorter than the read timeout, which client would wait.
	bounded         *redis.Client
	addr            string
	prefix          string
	node            string
	logger          *slog.Logger
	minBackoff      time.Duration
	maxBackoff      time.Duration
	health          time.Duration
	requestTimeout  time.Duration
	tracer          trace.Tracer // nil: no spans
	clusterChannel  string
	requestChannel  string
	answerChannel   string
	streamChannel   string
	errors          atomic.Uint64
	requestSequence atomic.Uint64
	// publishFailureLogged keeps publish errors to one warning per period
	// of the connection being up; the subscriber logs outages.
	publishFailureLogged atomic.Bool

	mu           sync.Mutex
	up           bool
	cause        string
	outageLogged bool
	started      bool
	closed       bool
	cancel       context.CancelFunc
	pubsub       *redis.PubSub
	pending      map[string]chan *Message
	wg           sync.WaitGroup
}

var _ Adapter = (*Redis)(nil)

// NewRedis returns a Redis adapter. It does not connect: Start does, in the
// background, so that a gateway starts (and serves its local sockets) while
// Redis is unreachable.
func NewRedis(opts RedisOptions) (*Redis, error) {
	clientOpts, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("adapter: redis url: %w", err)
	}
	if clientOpts.DialTimeout == 0 {
		clientOpts.DialTimeout = defaultIOTimeout
	}
	if clientOpts.ReadTimeout == 0 {
		clientOpts.ReadTimeout = defaultIOTimeout
	}
	if clientOpts.WriteTimeout == 0 {
		clientOpts.WriteTimeout = defaultIOTimeout
	}
	if clientOpts.MaxRetries == 0 {
		// One retry covers a connection that Redis closed while idle;
		// more would only delay the failure of a message during an outage.
		clientOpts.MaxRetries = 1
	}
	clientOpts.DisableIdentity = true
	clientOpts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	boundedOpts := *clientOpts
	boundedOpts.ContextTimeoutEnabled = true
	r := &Redis{
		client:         redis.NewClient(clientOpts),
		bounded:        redis.NewClient(&boundedOpts),
		addr:           clientOpts.Addr,
		prefix:         opts.Prefix,
		node:           newNodeID(),
		logger:         opts.Logger,
		minBackoff:     opts.MinBackoff,
		maxBackoff:     opts.MaxBackoff,
		health:         opts.HealthInterval,
		requestTimeout: opts.RequestTimeout,
		tracer:         opts.Tracer,
		pending:        make(map[string]chan *Message),
	}
	if r.prefix == "" {
		r.prefix = "gatehouse"
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.minBackoff <= 0 {
		r.minBackoff = DefaultMinBackoff
	}
	if r.maxBackoff < r.minBackoff {
		r.maxBackoff = max(DefaultMaxBackoff, r.minBackoff)
	}
	if r.health <= 0 {
		r.health = DefaultHealthInterval
	}
	if r.requestTimeout <= 0 {
		r.requestTimeout = DefaultRequestTimeout
	}
	r.clusterChannel = r.prefix + ":cluster"
	r.requestChannel = r.prefix + ":request"
	r.answerChannel = r.answerChannelOf(r.node)
	r.streamChannel = r.prefix + ":stream"
	r.cause = "connecting to redis at " + r.addr
	return r, nil
}

// NodeID identifies this process among the nodes of the cluster.
func (r *Redis) NodeID() string { return r.node }

// Distributed is true: other nodes may listen on the same Redis.
func (r *Redis) Distributed() bool { return true }

// PublishChannel is the Redis channel where Publish sends messages of
// channel, and where backends subscribe.
func (r *Redis) PublishChannel(channel string) string { return r.prefix + ":publish:" + channel }

func (r *Redis) answerChannelOf(node string) string { return r.prefix + ":answer:" + node }

// Start connects and subscribes in the background and hands the other
// nodes' messages to recv until Close. Calling it again does nothing.
func (r *Redis) Start(recv Receiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.run(ctx, recv)
}

// run keeps one subscription alive, reconnecting with capped exponential
// backoff and jitter.
func (r *Redis) run(ctx context.Context, recv Receiver) {
	defer r.wg.Done()
	backoff := r.minBackoff
	for {
		connected, err := r.subscribe(ctx, recv)
		if ctx.Err() != nil {
			return
		}
		r.markDown(err)
		if connected {
			backoff = r.minBackoff
		}
		// Full jitter in [backoff/2, backoff) keeps the nodes of a cluster
		// from reconnecting in lockstep after Redis restarts.
		wait := backoff/2 + rand.N(backoff/2+1)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, r.maxBackoff)
	}
}

// subscribe runs one connection's subscription until it fails; connected
// reports whether it got as far as being subscribed.
func (r *Redis) subscribe(ctx context.Context, recv Receiver) (connected bool, err error) {
	pubsub := r.client.Subscribe(ctx) // no channels yet: does not dial
	if !r.setPubSub(pubsub) {
		_ = pubsub.Close()
		return false, ErrClosed
	}
	defer func() {
		r.setPubSub(nil)
		_ = pubsub.Close()
	}()
	channels := []string{r.clusterChannel, r.requestChannel, r.answerChannel, r.streamChannel}
	if err := pubsub.Subscribe(ctx, channels...); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	for confirmed := 0; confirmed < len(channels); {
		reply, err := pubsub.ReceiveTimeout(ctx, r.health+defaultIOTimeout)
		if err != nil {
			return false, fmt.Errorf("subscribe: %w", err)
		}
		if _, ok := reply.(*redis.Subscription); ok {
			confirmed++
		}
	}
	r.markUp()
	pingPending := false
	for {
		reply, err := pubsub.ReceiveTimeout(ctx, r.health)
		if err != nil {
			if !isTimeout(err) || ctx.Err() != nil {
				return true, err
			}
			if pingPending {
				return true, errors.New("redis did not answer a ping in time")
			}
			if err := pubsub.Ping(ctx); err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
			pingPending = true
			continue
		}
		pingPending = false
		if m, ok := reply.(*redis.Message); ok {
			r.handle(ctx, recv, m)
		}
	}
}

// setPubSub records the live subscription, so that Close can interrupt
// its blocking read; it reports false once the adapter is closed.
func (r *Redis) setPubSub(p *redis.PubSub) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed && p != nil {
		return false
	}
	r.pubsub = p
	return true
}

// handle acts on one pub/sub message. A panic in the receiver is counted
// and logged: one bad message must not end the subscription.
func (r *Redis) handle(ctx context.Context, recv Receiver, m *redis.Message) {
	defer func() {
		if p := recover(); p != nil {
			r.errors.Add(1)
			r.logger.Error("redis adapter: message handling panicked", "channel", m.Channel, "panic", fmt.Sprint(p))
		}
	}()
	if m.Channel == r.streamChannel {
		r.handleRecorded(ctx, recv, m.Payload)
		return
	}
	var msg Message
	if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil {
		r.errors.Add(1)
		r.logger.Debug("redis adapter: undecodable message ignored", "channel", m.Channel, "error", err)
		return
	}
	if msg.Node == r.node {
		// Our own message, already delivered locally; its place among the
		// others' may matter to the receiver.
		if e, ok := recv.(Echoer); ok {
			e.Echo(ctx, &msg)
		}
		return
	}
	switch m.Channel {
	case r.answerChannel:
		r.resolve(&msg)
	case r.requestChannel:
		answer := recv.Answer(ctx, &msg)
		if answer == nil || msg.Node == "" {
			return
		}
		answer.Kind, answer.ID = KindAnswer, msg.ID
		reqCtx, cancel := context.WithTimeout(ctx, r.requestTimeout)
		defer cancel()
		if err := r.publishMessage(reqCtx, r.answerChannelOf(msg.Node), answer); err != nil {
			r.logger.Debug("redis adapter: answer not sent", "to", msg.Node, "error", err)
		}
	default:
		recv.Deliver(ctx, &msg)
	}
}

// resolve hands an answer to the Request waiting for it, if any.
func (r *Redis) resolve(answer *Message) {
	r.mu.Lock()
	waiting := r.pending[answer.ID]
	r.mu.Unlock()
	if waiting == nil {
		return // late: the request timed out
	}
	select {
	case waiting <- answer:
	default: // more answers than nodes counted; the request has enough
	}
}

// markUp records a working subscription.
func (r *Redis) markUp() {
	r.mu.Lock()
	wasUp := r.up
	r.up, r.cause, r.outageLogged = true, "", false
	r.mu.Unlock()
	r.publishFailureLogged.Store(false)
	if !wasUp {
		r.logger.Info("redis adapter connected; cross-node delivery on", "redis", r.addr, "node", r.node)
	}
}

// markDown records a lost (or never made) connection and logs it once per
// outage.
func (r *Redis) markDown(err error) {
	if err == nil || errors.Is(err, ErrClosed) {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	wasUp := r.up
	logIt := !r.outageLogged
	r.up, r.outageLogged = false, true
	r.cause = fmt.Sprintf("redis at %s unreachable: %v", r.addr, err)
	r.mu.Unlock()
	if wasUp {
		r.errors.Add(1)
	}
	if logIt {
		r.logger.Error("redis adapter down: delivering to this node's sockets only, reconnecting",
			"redis", r.addr, "error", err)
	}
}

// State reports whether other nodes can be reached and, when not, why.
func (r *Redis) State() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up, r.cause
}

// Errors counts messages dropped or not published, connection losses and
// undecodable messages since start.
func (r *Redis) Errors() uint64 { return r.errors.Load() }

// usable returns nil when messages can be sent, or the error that a send
// fails with (and counts).
func (r *Redis) usable() error {
	r.mu.Lock()
	closed, up, cause := r.closed, r.up, r.cause
	r.mu.Unlock()
	switch {
	case closed:
		r.errors.Add(1)
		return ErrClosed
	case !up:
		r.errors.Add(1)
		return fmt.Errorf("%w: %s", ErrUnavailable, cause)
	}
	return nil
}

// Send hands msg (whose Node it sets) to every other node.
func (r *Redis) Send(ctx context.Context, msg *Message) error {
	if err := r.usable(); err != nil {
		return err
	}
	return r.publishMessage(ctx, r.clusterChannel, msg)
}

func (r *Redis) publishMessage(ctx context.Context, channel string, msg *Message) error {
	msg.Node = r.node
	payload, err := json.Marshal(msg)
	if err != nil {
		r.errors.Add(1)
		return fmt.Errorf("adapter: encode %s message: %w", msg.Kind, err)
	}
	return r.publish(ctx, channel, payload)
}

func (r *Redis) publish(ctx context.Context, channel string, payload []byte) (err error) {
	if r.tracer != nil {
		var span trace.Span
		ctx, span = r.startPublishSpan(ctx, channel, len(payload))
		defer func() { endPublishSpan(span, err) }()
	}
	if err := r.client.Publish(ctx, channel, payload).Err(); err != nil {
		r.errors.Add(1)
		if r.publishFailureLogged.CompareAndSwap(false, true) {
			r.logger.Warn("redis adapter: publish failed", "redis", r.addr, "channel", channel, "error", err)
		}
		return fmt.Errorf("%w: publish to %s: %w", ErrUnavailable, channel, err)
	}
	return nil
}

// startPublishSpan starts the span of one PUBLISH, named and described as
// OpenTelemetry's messaging conventions say.
func (r *Redis) startPublishSpan(ctx context.Context, channel string, size int) (context.Context, trace.Span) {
	return r.tracer.Start(ctx, "publish "+channel, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "redis"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", channel),
			attribute.Int("messaging.message.body.size", size),
		))
}

// endPublishSpan ends a PUBLISH span, failed when err is set.
func endPublishSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Publish sends payload to the backends subscribed to
// "<prefix>:publish:<channel>".
func (r *Redis) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := r.usable(); err != nil {
		return err
	}
	return r.publish(ctx, r.PublishChannel(channel), payload)
}

// Request sends req to the other nodes and gathers their answers. The
// number of nodes to wait for is the number of subscribers of the request
// channel (PUBSUB NUMSUB) less this node.
func (r *Redis) Request(ctx context.Context, req *Message) ([]*Message, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.requestTimeout)
		defer cancel()
	}
	counts, err := r.client.PubSubNumSub(ctx, r.requestChannel).Result()
	if err != nil {
		r.errors.Add(1)
		return nil, fmt.Errorf("%w: count nodes: %w", ErrUnavailable, err)
	}
	others := int(counts[r.requestChannel]) - 1
	if others <= 0 {
		return nil, nil
	}
	req.ID = r.node + "-" + strconv.FormatUint(r.requestSequence.Add(1), 10)
	answers := make(chan *Message, others)
	r.mu.Lock()
	r.pending[req.ID] = answers
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, req.ID)
		r.mu.Unlock()
	}()
	if err := r.publishMessage(ctx, r.requestChannel, req); err != nil {
		return nil, err
	}
	got := make([]*Message, 0, others)
	for len(got) < others {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-ctx.Done():
			return got, fmt.Errorf("%d of %d other nodes answered: %w", len(got), others, ErrTimeout)
		}
	}
	return got, nil
}

// Close stops the subscription and closes the connection pool.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.up, r.cause = false, "adapter closed"
	cancel, pubsub := r.cancel, r.pubsub
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if pubsub != nil {
		// Interrupts the subscriber's blocking read.
		_ = pubsub.Close()
	}
	r.wg.Wait()
	err := r.client.Close()
	if berr := r.bounded.Close(); err == nil {
		err = berr
	}
	if err != nil {
		return fmt.Errorf("adapter: close redis client: %w", err)
	}
	return nil
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// newNodeID returns 16 random hex digits.
func newNodeID() string {
	var b [8]byte
	_, _ = cryptorand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}
