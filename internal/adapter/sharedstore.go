package adapter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse"
)

// SharedStore is implemented by adapters whose backend can also keep state
// that every node shares (rate limits with store: redis): the operations of
// gatehouse.SharedStore, which the gateway hands to guards and handlers
// through their host. The gateway asks an adapter for it rather than naming
// the adapter's type, and no Redis type leaves this package.
type SharedStore interface {
	gatehouse.SharedStore
}

var _ SharedStore = (*Redis)(nil)

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

// errUnexpectedReply is a script reply of the wrong shape.
var errUnexpectedReply = errors.New("unexpected reply from the token bucket script")

// TakeToken takes a token from the bucket key, kept in Redis under the
// adapter's prefix (gatehouse.SharedStore). The call ends when ctx does,
// so that a guard's deadline holds while Redis stalls.
func (r *Redis) TakeToken(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	if interval <= 0 || burst < 1 {
		return false, 0, fmt.Errorf("take token %q: interval %v and burst %d must be above 0", key, interval, burst)
	}
	micros := strconv.FormatFloat(float64(interval)/float64(time.Microsecond), 'f', 3, 64)
	result, err := gcraScript.Run(ctx, r.bounded, []string{r.prefix + ":" + key}, micros, burst).Int64Slice()
	if err == nil && len(result) != 2 {
		err = errUnexpectedReply
	}
	if err != nil {
		return false, 0, fmt.Errorf("take token %q: %w", key, err)
	}
	if result[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(result[1]) * time.Microsecond, nil
}
