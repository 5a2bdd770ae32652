package guards

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

// SharedRedis is the Redis connection a gateway shares with guards that keep
// state across nodes (rate_limit with store: redis). The gateway hands it to
// guard factories through config.Options when its adapter is Redis; see
// WithSharedRedis.
type SharedRedis struct {
	// Client is the connection pool of the cluster adapter.
	Client redis.UniversalClient
	// Prefix starts every key (adapter.redis.prefix).
	Prefix string
	// Logger receives outages of the store, once each.
	Logger *slog.Logger
}

// sharedRedisKey is the config.Options resource key of a *SharedRedis.
type sharedRedisKey struct{}

// WithSharedRedis returns opts carrying r for the guard factory.
func WithSharedRedis(opts config.Options, r *SharedRedis) config.Options {
	return opts.WithResource(sharedRedisKey{}, r)
}

// sharedRedisOf returns the Redis connection the host shared, or nil.
func sharedRedisOf(opts config.Options) *SharedRedis {
	r, _ := opts.Resource(sharedRedisKey{}).(*SharedRedis)
	return r
}

const (
	// redisLimitTimeout bounds one bucket check: a slow store must not
	// hold events back for long.
	redisLimitTimeout = 500 * time.Millisecond
	// redisLimitPause is how long a failed store is not asked again; events
	// pass meanwhile rather than each waiting for a timeout.
	redisLimitPause = time.Second
)

// gcraScript is a token bucket as a generic cell rate algorithm: the key
// holds the theoretical arrival time (TAT) in microseconds of the Redis
// clock, so that nodes whose clocks differ share one bucket. ARGV[1] is the
// interval between tokens in microseconds, ARGV[2] the burst. It returns
// {1, 0} when a token was taken and {0, retry-after in microseconds}.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local next_tat = tat + interval
local allow_at = next_tat - burst * interval
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, 0}
`)

// redisBuckets keeps a rate_limit guard's buckets in Redis, shared by every
// node. When Redis fails it lets events through (fail open: a limiter
// outage must not become a gateway outage) and logs once per outage.
type redisBuckets struct {
	shared    *SharedRedis
	guard     string
	keyPrefix string
	interval  string // microseconds per token, for the script
	burst     int
	now       func() time.Time
	// pausedUntil is when, in Unix nanoseconds, Redis is asked again after
	// an error; 0 while it works.
	pausedUntil atomic.Int64
	outage      atomic.Bool
}

func newRedisBuckets(shared *SharedRedis, guard string, tokensPerSecond float64, burst int) *redisBuckets {
	if guard == "" {
		guard = "rate_limit"
	}
	if shared.Logger == nil {
		shared.Logger = slog.New(slog.DiscardHandler)
	}
	return &redisBuckets{
		shared:    shared,
		guard:     guard,
		keyPrefix: shared.Prefix + ":ratelimit:" + guard + ":",
		interval:  strconv.FormatFloat(1e6/tokensPerSecond, 'f', 3, 64),
		burst:     burst,
		now:       time.Now,
	}
}

// take takes a token from key's bucket, or returns how long until one is
// available.
func (b *redisBuckets) take(ctx context.Context, key bucketKey) (time.Duration, bool) {
	now := b.now()
	if until := b.pausedUntil.Load(); until != 0 && now.UnixNano() < until {
		return 0, true
	}
	redisKey := b.keyPrefix + "key:" + key.id
	if key.bySocket {
		redisKey = b.keyPrefix + "socket:" + key.id
	}
	ctx, cancel := context.WithTimeout(ctx, redisLimitTimeout)
	defer cancel()
	result, err := gcraScript.Run(ctx, b.shared.Client, []string{redisKey}, b.interval, b.burst).Int64Slice()
	if err == nil && len(result) != 2 {
		err = errUnexpectedReply
	}
	if err != nil {
		b.pausedUntil.Store(now.Add(redisLimitPause).UnixNano())
		if b.outage.CompareAndSwap(false, true) {
			b.shared.Logger.Error("rate_limit: redis store failed; letting events through until it is back",
				"guard", b.guard, "error", err)
		}
		return 0, true
	}
	b.pausedUntil.Store(0)
	if b.outage.CompareAndSwap(true, false) {
		b.shared.Logger.Info("rate_limit: redis store is back", "guard", b.guard)
	}
	if result[0] == 1 {
		return 0, true
	}
	return time.Duration(result[1]) * time.Microsecond, false
}

// errUnexpectedReply is a script reply of the wrong shape.
var errUnexpectedReply = errors.New("unexpected reply from the rate limit script")
