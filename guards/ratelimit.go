package guards

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

func init() {
	Define("rate_limit", Spec{
		Doc: "Counts events or CONNECTs in a token bucket per socket, user, address or claim, and refuses those over the rate (rate_limited).",
		Refusals: []Refusal{
			{Code: "rate_limited", When: "the key's bucket is empty; the refusal carries retry_after_ms"},
		},
	}, newRateLimitGuard)
}

// rateLimitOptions are the options of a rate_limit guard.
type rateLimitOptions struct {
	// Key is what one bucket counts: socket, user (the sub claim), ip or
	// claim:NAME.
	Key string `yaml:"key" doc:"What one bucket counts: socket, user (the sub claim), ip or claim:NAME." doctype:"\x60socket\x60, \x60user\x60, \x60ip\x60 or \x60claim:NAME\x60" docdefault:"—"`
	// Rate is how many tokens are added per Per.
	Rate float64 `yaml:"rate" doc:"How many events are allowed per period." docdefault:"**required**"`
	// Per is the period of Rate (default 1s).
	Per config.Duration `yaml:"per" doc:"The period of rate." default:"1s"`
	// Burst is the bucket size (default ceil(rate)).
	Burst int `yaml:"burst" doc:"The bucket size: how many events may come at once; ceil(rate) when not written." docdefault:"\x60ceil(rate)\x60"`
	// Store is where buckets live: memory (per process, the default) or
	// redis (shared by every node; needs adapter.kind: redis).
	Store string `yaml:"store" doc:"Where buckets live: memory (per process) or redis (shared by every node; needs adapter.kind: redis)." default:"memory" doctype:"\x60memory\x60 or \x60redis\x60"`
}

// rateKeyKind is what a bucket is keyed by.
type rateKeyKind int

const (
	keyBySocket rateKeyKind = iota + 1
	keyByUser
	keyByIP
	keyByClaim
)

const (
	// rateShards spreads buckets over several locks, so that sockets of
	// different users rarely wait for each other.
	rateShards = 16
	// maxBucketsPerShard bounds the memory of one guard (16 x 4096 buckets,
	// a few MB) whatever the number of distinct keys clients make up.
	maxBucketsPerShard = 4096
)

// rateLimitGuard is a token bucket per key. Buckets live in a bounded map;
// a bucket that has refilled completely is the same as a new one, so it is
// dropped when room is needed, and no goroutine is needed to expire them.
type rateLimitGuard struct {
	kind  rateKeyKind
	claim string // for keyByClaim
	limit rate.Limit
	burst int
	// refill is how long an untouched bucket takes to fill up again.
	refill time.Duration
	seed   maphash.Seed
	shards [rateShards]rateShard
	// shared keeps the buckets in the host's shared store instead (store:
	// redis).
	shared *sharedBuckets
	// shardCapacity is maxBucketsPerShard; tests lower it.
	shardCapacity int
	now           func() time.Time
}

// bucketKey identifies a bucket. bySocket marks keys that fell back to the
// socket id, so that a user whose sub equals some socket id cannot share
// that socket's bucket.
type bucketKey struct {
	id       string
	bySocket bool
}

type rateShard struct {
	mu        sync.Mutex
	buckets   map[bucketKey]*rate.Limiter
	lastSweep time.Time
}

func newRateLimitGuard(opts config.Options, o rateLimitOptions) (Guard, error) {
	// The host's clock, so that a test host can move time by hand.
	g := &rateLimitGuard{seed: maphash.MakeSeed(), now: opts.Host().Now, shardCapacity: maxBucketsPerShard}
	var errs config.ErrorList
	switch {
	case o.Key == "socket":
		g.kind = keyBySocket
	case o.Key == "user":
		g.kind = keyByUser
	case o.Key == "ip":
		g.kind = keyByIP
	case strings.HasPrefix(o.Key, "claim:") && len(o.Key) > len("claim:"):
		g.kind, g.claim = keyByClaim, strings.TrimPrefix(o.Key, "claim:")
	case o.Key == "":
		errs = append(errs, config.Errorf(opts.Pos(), "rate_limit: key is required: socket, user, ip or claim:NAME"))
	default:
		errs = append(errs, config.Errorf(optionPos(opts, "key"), "rate_limit: unknown key %q%s (expected socket, user, ip or claim:NAME)",
			o.Key, config.Suggest(o.Key, []string{"socket", "user", "ip"})))
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		errs = append(errs, config.Errorf(optionPos(opts, "rate"), "rate_limit: rate must be a number above 0, such as `rate: 10`"))
	}
	per := o.Per.D()
	if per == 0 {
		per = time.Second
	}
	if per < 0 {
		errs = append(errs, config.Errorf(optionPos(opts, "per"), "rate_limit: per must be a positive duration"))
	}
	burst := o.Burst
	if burst == 0 && o.Rate > 0 {
		burst = int(math.Min(math.Ceil(o.Rate), math.MaxInt32))
	}
	if o.Burst < 0 {
		errs = append(errs, config.Errorf(optionPos(opts, "burst"), "rate_limit: burst must be at least 1"))
	}
	switch o.Store {
	case "", "memory":
	case "redis":
		if opts.Host().SharedStore() == nil {
			errs = append(errs, config.Errorf(optionPos(opts, "store"), "rate_limit: store redis needs the Redis adapter: set adapter.kind: redis"))
		}
	default:
		errs = append(errs, config.Errorf(optionPos(opts, "store"), "rate_limit: unknown store %q%s (expected memory or redis)",
			o.Store, config.Suggest(o.Store, []string{"memory", "redis"})))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	g.limit = rate.Limit(o.Rate / per.Seconds())
	g.burst = burst
	if o.Store == "redis" {
		g.shared = newSharedBuckets(opts.Host(), opts.Name(), float64(g.limit), burst)
	}
	g.refill = time.Duration(float64(burst) / float64(g.limit) * float64(time.Second))
	for i := range g.shards {
		g.shards[i].buckets = map[bucketKey]*rate.Limiter{}
	}
	return g, nil
}

// MayBlock reports whether the guard may wait (handlers.Blocking): buckets kept in
// Redis are a network round trip away, local ones are not.
func (g *rateLimitGuard) MayBlock() bool { return g.shared != nil }

// CheckOnArrival reports whether the guard may decide when the event
// arrives (OnArrival): a bucket per socket, user or address is the same
// whatever the socket's earlier events did, while a claim may change with
// a token refresh queued before the event.
func (g *rateLimitGuard) CheckOnArrival() bool { return g.kind != keyByClaim }

// Check takes one token from the caller's bucket, or denies with the time
// until one is available.
func (g *rateLimitGuard) Check(ctx context.Context, in *Input) error {
	key := g.keyFor(in)
	now := g.now()
	var wait time.Duration
	var ok bool
	if g.shared != nil {
		wait, ok = g.shared.take(ctx, key)
	} else {
		wait, ok = g.take(key, now)
	}
	if ok {
		return nil
	}
	ms := int((wait + time.Millisecond - 1) / time.Millisecond)
	return &gatehouse.Error{
		Code:    gatehouse.CodeRateLimited,
		Message: fmt.Sprintf("too many requests; retry in %d ms", ms),
		Data:    map[string]any{"retry_after_ms": ms},
	}
}

func (g *rateLimitGuard) keyFor(in *Input) bucketKey {
	s := in.Socket
	if s == nil {
		return bucketKey{bySocket: true}
	}
	switch g.kind {
	case keyByUser:
		if sub := s.Claims().Subject(); sub != "" {
			return bucketKey{id: sub}
		}
	case keyByIP:
		return bucketKey{id: s.RemoteIP()}
	case keyByClaim:
		switch v := s.Claims()[g.claim].(type) {
		case string:
			if v != "" {
				return bucketKey{id: v}
			}
		case float64:
			return bucketKey{id: strconv.FormatFloat(v, 'g', -1, 64)}
		case bool:
			return bucketKey{id: strconv.FormatBool(v)}
		}
	}
	return bucketKey{id: s.ID(), bySocket: true}
}

// take reserves a token at now; when none is available it cancels the
// reservation, so that a denied call does not use up future tokens, and
// returns how long until one is.
func (g *rateLimitGuard) take(key bucketKey, now time.Time) (time.Duration, bool) {
	shard := &g.shards[maphash.String(g.seed, key.id)%rateShards]
	shard.mu.Lock()
	defer shard.mu.Unlock()
	limiter := shard.buckets[key]
	if limiter == nil {
		if len(shard.buckets) >= g.shardCapacity {
			g.makeRoom(shard, now)
		}
		limiter = rate.NewLimiter(g.limit, g.burst)
		shard.buckets[key] = limiter
	}
	reservation := limiter.ReserveN(now, 1)
	if !reservation.OK() {
		return g.refill, false
	}
	if wait := reservation.DelayFrom(now); wait > 0 {
		reservation.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// makeRoom drops the buckets that have refilled. When every bucket is in
// use (more active keys than the bound), it drops one at random: that key
// starts afresh, which errs on the side of letting a client through rather
// than growing without limit. Sweeps are spaced by the refill time, since
// no bucket can become full faster than that.
func (g *rateLimitGuard) makeRoom(shard *rateShard, now time.Time) {
	if now.Sub(shard.lastSweep) >= g.refill {
		shard.lastSweep = now
		full := float64(g.burst)
		for key, limiter := range shard.buckets {
			if limiter.TokensAt(now) >= full {
				delete(shard.buckets, key)
			}
		}
	}
	if len(shard.buckets) < g.shardCapacity {
		return
	}
	for key := range shard.buckets {
		delete(shard.buckets, key)
		return
	}
}

// bucketCount is the number of live buckets, for tests.
func (g *rateLimitGuard) bucketCount() int {
	n := 0
	for i := range g.shards {
		g.shards[i].mu.Lock()
		n += len(g.shards[i].buckets)
		g.shards[i].mu.Unlock()
	}
	return n
}
