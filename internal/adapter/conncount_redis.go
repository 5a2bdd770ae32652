package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// How the Redis connection counter keeps the cluster's counts:
//
//   - each node has a hash "<prefix>:conns:node:<node>", key -> the count of
//     its own connections under that key, and a marker field "!" that says
//     the hash holds all of them (it is gone when the hash expired, or Redis
//     restarted, while the node lived on);
//   - the sorted set "<prefix>:conns:nodes" lists the nodes, scored by when
//     their counts stop counting (the Redis clock, in milliseconds).
//
// Every node refreshes both with a heartbeat (every ttl/3) and at each
// Acquire, which sums the key's counts over the live nodes and increments
// its own in one script, so that two nodes never both take the last place.
// A node that dies stops counting within ttl: its hash expires and it is
// pruned from the set. The node's own counts in memory are the truth about
// it: whenever Redis may have missed an increment or a decrement (a failed
// call, an expired hash), the node writes its whole hash again (resync).
const connMarker = "!"

// acquireScript: KEYS[1] the nodes, KEYS[2] this node's hash; ARGV[1] the
// node, ARGV[2] the ttl in ms, ARGV[3] the prefix of the nodes' hashes,
// then key and limit pairs. It returns -2 when this node's hash must be
// written again first, -1 when every key had room (each is then counted),
// else the index of the first full key.
var acquireScript = redis.NewScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('HEXISTS', KEYS[2], '` + connMarker + `') == 0 then
  return -2
end
local nodes = redis.call('ZRANGE', KEYS[1], 0, -1)
local index = 0
for i = 4, #ARGV, 2 do
  local total = 0
  for _, node in ipairs(nodes) do
    local n = tonumber(redis.call('HGET', ARGV[3] .. node, ARGV[i]) or '0')
    if n and n > 0 then total = total + n end
  end
  if total >= tonumber(ARGV[i + 1]) then
    return index
  end
  index = index + 1
end
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
redis.call('PEXPIRE', KEYS[2], ttl)
return -1
`)

// releaseScript: KEYS[1] this node's hash; ARGV the keys. It returns 0
// when the hash must be written again (its counts were lost), else 1.
var releaseScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], '` + connMarker + `') == 0 then
  return 0
end
for i = 1, #ARGV do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -1) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
`)

// heartbeatScript: KEYS[1] the nodes, KEYS[2] this node's hash; ARGV[1] the
// node, ARGV[2] the ttl in ms. It returns 0 when the hash must be written
// again, else 1.
var heartbeatScript = redis.NewScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('HEXISTS', KEYS[2], '` + connMarker + `') == 0 then
  return 0
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

// resyncNeeded is acquireScript's answer when the node's hash must be
// written again.
const resyncNeeded = -2

// resyncBatch bounds the fields of one HSET when a hash is written again.
const resyncBatch = 1000

// redisConns is the connection counter of a cluster that shares one Redis.
// While Redis fails it counts this node's connections alone (each cap then
// holds per node), logs the outage once, and writes its counts again once
// Redis is back.
type redisConns struct {
	client   *redis.Client
	node     string
	nodesKey string
	hashOf   string // prefix of a node's hash key
	hashKey  string // this node's
	ttl      time.Duration
	logger   *slog.Logger
	// ownsClient says Close closes client.
	ownsClient bool

	local localConns
	// sync is held shared by the calls that change counts in Redis and in
	// memory together, and exclusively by a resync, so that the hash it
	// writes is the counts in memory at one moment.
	sync sync.RWMutex
	// dirty says Redis may have missed a change: the next heartbeat
	// writes the hash again.
	dirty       atomic.Bool
	pausedUntil atomic.Int64 // Unix ns; 0 while Redis answers
	outage      atomic.Bool
	closed      atomic.Bool

	startOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

func newRedisConns(client *redis.Client, prefix, node string, ttl time.Duration, logger *slog.Logger) *redisConns {
	return &redisConns{
		client:   client,
		node:     node,
		nodesKey: prefix + ":conns:nodes",
		hashOf:   prefix + ":conns:node:",
		hashKey:  prefix + ":conns:node:" + node,
		ttl:      ttl,
		logger:   logger,
		local:    localConns{counts: map[string]int{}},
	}
}

// Acquire implements ConnCounter.
func (c *redisConns) Acquire(ctx context.Context, caps []Cap) int {
	if len(caps) == 0 {
		return -1
	}
	c.startHeartbeat()
	if c.usable() {
		full, err := c.acquireShared(ctx, caps)
		if err == nil {
			c.recovered()
			return full
		}
		c.failed(err)
	}
	c.sync.RLock()
	defer c.sync.RUnlock()
	c.dirty.Store(true)
	return c.local.Acquire(ctx, caps)
}

// acquireShared runs acquireScript, writing the node's hash again first
// when the script asks for it.
func (c *redisConns) acquireShared(ctx context.Context, caps []Cap) (int, error) {
	args := make([]any, 0, 3+2*len(caps))
	args = append(args, c.node, c.ttl.Milliseconds(), c.hashOf)
	for _, cp := range caps {
		args = append(args, cp.Key, cp.Limit)
	}
	for attempt := 0; ; attempt++ {
		full, err := c.runAcquire(ctx, caps, args)
		if err != nil || full != resyncNeeded {
			return full, err
		}
		if attempt > 0 {
			return 0, errors.New("this node's counts vanished again as soon as they were written")
		}
		if err := c.resync(ctx); err != nil {
			return 0, err
		}
	}
}

func (c *redisConns) runAcquire(ctx context.Context, caps []Cap, args []any) (int, error) {
	c.sync.RLock()
	defer c.sync.RUnlock()
	ctx, cancel := context.WithTimeout(ctx, connCountTimeout)
	defer cancel()
	full, err := acquireScript.Run(ctx, c.client, []string{c.nodesKey, c.hashKey}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("count connections: %w", err)
	}
	if full == -1 {
		c.local.add(caps)
	}
	return full, nil
}

// Release implements ConnCounter.
func (c *redisConns) Release(keys []string) {
	if len(keys) == 0 {
		return
	}
	c.sync.RLock()
	defer c.sync.RUnlock()
	c.local.Release(keys)
	if !c.usable() {
		c.dirty.Store(true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), connCountTimeout)
	defer cancel()
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	kept, err := releaseScript.Run(ctx, c.client, []string{c.hashKey}, args...).Int()
	switch {
	case err != nil:
		c.failed(fmt.Errorf("release connections: %w", err))
		c.dirty.Store(true)
	case kept == 0:
		c.dirty.Store(true)
	}
}

// resync writes this node's hash again from its counts in memory.
func (c *redisConns) resync(ctx context.Context) error {
	c.sync.Lock()
	defer c.sync.Unlock()
	c.dirty.Store(false)
	counts := c.local.snapshot()
	ctx, cancel := context.WithTimeout(ctx, connCountTimeout)
	defer cancel()
	_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, c.hashKey)
		fields := []any{connMarker, 1}
		for key, n := range counts {
			fields = append(fields, key, n)
			if len(fields) >= 2*resyncBatch {
				p.HSet(ctx, c.hashKey, fields...)
				fields = fields[:0]
			}
		}
		if len(fields) > 0 {
			p.HSet(ctx, c.hashKey, fields...)
		}
		p.PExpire(ctx, c.hashKey, c.ttl)
		return nil
	})
	if err != nil {
		c.dirty.Store(true)
		return fmt.Errorf("write this node's connection counts: %w", err)
	}
	return nil
}

// usable reports whether Redis is to be asked: not after Close, nor for a
// moment after a failure.
func (c *redisConns) usable() bool {
	if c.closed.Load() {
		return false
	}
	until := c.pausedUntil.Load()
	return until == 0 || time.Now().UnixNano() >= until
}

func (c *redisConns) failed(err error) {
	c.pausedUntil.Store(time.Now().Add(connCountPause).UnixNano())
	if c.outage.CompareAndSwap(false, true) {
		c.logger.Error("connection caps: redis failed; counting this node's connections alone until it is back",
			"error", err)
	}
}

func (c *redisConns) recovered() {
	c.pausedUntil.Store(0)
	if c.outage.CompareAndSwap(true, false) {
		c.logger.Info("connection caps: redis is back; counting the cluster's connections again")
	}
}

// startHeartbeat starts, once, the goroutine that keeps this node's counts
// alive in Redis; it runs until Close.
func (c *redisConns) startHeartbeat() {
	c.startOnce.Do(func() {
		if c.closed.Load() {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel, c.done = cancel, make(chan struct{})
		go c.heartbeat(ctx)
	})
}

func (c *redisConns) heartbeat(ctx context.Context) {
	defer close(c.done)
	ticker := time.NewTicker(c.ttl / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := c.beat(ctx); err != nil {
				c.failed(err)
			} else {
				c.recovered()
			}
		}
	}
}

// beat refreshes this node's entry and hash, and writes the hash again
// when Redis may have missed a change or lost it.
func (c *redisConns) beat(ctx context.Context) error {
	if c.dirty.Load() {
		return c.resync(ctx)
	}
	callCtx, cancel := context.WithTimeout(ctx, connCountTimeout)
	defer cancel()
	kept, err := heartbeatScript.Run(callCtx, c.client, []string{c.nodesKey, c.hashKey}, c.node, c.ttl.Milliseconds()).Int()
	if err != nil {
		c.dirty.Store(true)
		return fmt.Errorf("connection counts heartbeat: %w", err)
	}
	if kept == 0 {
		return c.resync(ctx)
	}
	return nil
}

// Close implements ConnCounter: the heartbeat stops and this node's counts
// leave the cluster's at once rather than after the ttl.
func (c *redisConns) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.startOnce.Do(func() {}) // no heartbeat may start after this
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), connCountTimeout)
	defer cancel()
	_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, c.hashKey)
		p.ZRem(ctx, c.nodesKey, c.node)
		return nil
	})
	if err != nil {
		err = fmt.Errorf("take this node's connection counts out of redis: %w", err)
	}
	if c.ownsClient {
		if cerr := c.client.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close the connection counter's redis client: %w", cerr)
		}
	}
	return err
}

// Count reports how many connections this node counts under key.
func (c *redisConns) Count(key string) int { return c.local.Count(key) }
