package adapter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cap is one connection limit a connection is counted against: Key names
// what is limited (one user in one namespace, a whole namespace), Limit is
// how many connections it may hold at once.
type Cap struct {
	Key   string
	Limit int
}

// ConnCounter counts the connections held under each key, on this node or,
// with a distributed adapter, on every node of the cluster, so that a cap
// holds for the cluster as a whole. Its methods are safe for concurrent use.
type ConnCounter interface {
	// Acquire counts one more connection under the key of every cap when
	// each holds fewer than its limit, and returns -1. Otherwise it counts
	// nothing and returns the index of the first cap that is full.
	Acquire(ctx context.Context, caps []Cap) int
	// Release gives back one connection under each key, as counted by an
	// Acquire that returned -1.
	Release(keys []string)
	// Close stops the counter's background work; a distributed counter
	// also takes this node's counts out of the cluster's at once.
	Close() error
}

// Defaults of the Redis connection counter.
const (
	// DefaultConnCountTTL is how long a node's counts outlive its last
	// heartbeat: a node that dies without closing stops counting within it.
	DefaultConnCountTTL = 15 * time.Second
	// connCountTimeout bounds one Redis call of the counter, so that a slow
	// Redis holds a CONNECT back briefly.
	connCountTimeout = 500 * time.Millisecond
	// connCountPause is how long Redis is not asked again after a failure;
	// connections are counted on this node alone meanwhile.
	connCountPause = time.Second
)

// NewConnCounter returns the counter that fits a: with Redis, counts shared
// by every node on that Redis, expiring DefaultConnCountTTL after a node's
// last heartbeat; otherwise this process's counts. logger may be nil.
func NewConnCounter(a Adapter, logger *slog.Logger) ConnCounter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if r, ok := a.(*Redis); ok {
		// A client of its own, whose calls end when their context does:
		// the adapter's waits for its read timeout, longer than a CONNECT
		// should wait for a stalled Redis.
		opts := *r.client.Options()
		opts.ContextTimeoutEnabled = true
		c := newRedisConns(redis.NewClient(&opts), r.prefix, r.node, DefaultConnCountTTL, logger)
		c.ownsClient = true
		return c
	}
	return &localConns{counts: map[string]int{}}
}

// localConns counts the connections of one process.
type localConns struct {
	mu     sync.Mutex
	counts map[string]int
}

// Acquire implements ConnCounter.
func (l *localConns) Acquire(_ context.Context, caps []Cap) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range caps {
		if l.counts[c.Key] >= c.Limit {
			return i
		}
	}
	for _, c := range caps {
		l.counts[c.Key]++
	}
	return -1
}

// Release implements ConnCounter.
func (l *localConns) Release(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked(keys)
}

func (l *localConns) releaseLocked(keys []string) {
	for _, key := range keys {
		if n := l.counts[key] - 1; n > 0 {
			l.counts[key] = n
		} else {
			// Deleted at 0, so that users who left hold no memory.
			delete(l.counts, key)
		}
	}
}

// add counts one connection under each cap's key without a limit.
func (l *localConns) add(caps []Cap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range caps {
		l.counts[c.Key]++
	}
}

// snapshot copies the counts.
func (l *localConns) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, n := range l.counts {
		out[k] = n
	}
	return out
}

// Close implements ConnCounter.
func (l *localConns) Close() error { return nil }

// Count reports how many connections this process counts under key.
func (l *localConns) Count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[key]
}
