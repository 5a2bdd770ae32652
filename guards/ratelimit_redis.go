package guards

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

const (
	// sharedLimitTimeout bounds one bucket check: a slow store must not
	// hold events back for long.
	sharedLimitTimeout = 500 * time.Millisecond
	// sharedLimitPause is how long a failed store is not asked again;
	// events pass meanwhile rather than each waiting for a timeout.
	sharedLimitPause = time.Second
)

// sharedBuckets keeps a rate_limit guard's buckets in the store its host
// shares across nodes (store: redis, answered by the Redis adapter). When
// the store fails it lets events through (fail open: a limiter outage must
// not become a gateway outage) and logs once per outage.
type sharedBuckets struct {
	store     gatehouse.SharedStore
	logger    *slog.Logger
	guard     string
	keyPrefix string
	interval  time.Duration // between tokens
	burst     int
	now       func() time.Time
	// pausedUntil is when, in Unix nanoseconds, the store is asked again
	// after an error; 0 while it works.
	pausedUntil atomic.Int64
	outage      atomic.Bool
}

func newSharedBuckets(host gatehouse.Host, guard string, tokensPerSecond float64, burst int) *sharedBuckets {
	if guard == "" {
		guard = "rate_limit"
	}
	return &sharedBuckets{
		store:     host.SharedStore(),
		logger:    host.Logger(),
		guard:     guard,
		keyPrefix: "ratelimit:" + guard + ":",
		interval:  time.Duration(float64(time.Second) / tokensPerSecond),
		burst:     burst,
		now:       time.Now,
	}
}

// take takes a token from key's bucket, or returns how long until one is
// available.
func (b *sharedBuckets) take(ctx context.Context, key bucketKey) (time.Duration, bool) {
	now := b.now()
	if until := b.pausedUntil.Load(); until != 0 && now.UnixNano() < until {
		return 0, true
	}
	storeKey := b.keyPrefix + "key:" + key.id
	if key.bySocket {
		storeKey = b.keyPrefix + "socket:" + key.id
	}
	ctx, cancel := context.WithTimeout(ctx, sharedLimitTimeout)
	defer cancel()
	ok, wait, err := b.store.TakeToken(ctx, storeKey, b.interval, b.burst)
	if err != nil {
		b.pausedUntil.Store(now.Add(sharedLimitPause).UnixNano())
		if b.outage.CompareAndSwap(false, true) {
			b.logger.Error("rate_limit: shared store failed; letting events through until it is back",
				"guard", b.guard, "error", err)
		}
		return 0, true
	}
	b.pausedUntil.Store(0)
	if b.outage.CompareAndSwap(true, false) {
		b.logger.Info("rate_limit: shared store is back", "guard", b.guard)
	}
	return wait, ok
}
