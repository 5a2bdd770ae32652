package roster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// Defaults of CacheOptions.
const (
	// DefaultRefresh is how often an entry read since its last fetch is
	// fetched again.
	DefaultRefresh = 500 * time.Millisecond
	// DefaultMaxAge is the oldest an answer may be: an entry fetched longer
	// ago (the record unreachable or slow) is not answered from, and the
	// node's own figures answer instead.
	DefaultMaxAge = 1500 * time.Millisecond
	// DefaultFetchTimeout bounds one round of fetches.
	DefaultFetchTimeout = 500 * time.Millisecond
	// DefaultMaxEntries bounds the entries a node keeps.
	DefaultMaxEntries = 10000
	// DefaultIdle is how long an entry that nobody reads is kept.
	DefaultIdle = 10 * time.Second
	// fetchBatch is the most queries sent in one round trip.
	fetchBatch = 1000
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// Read answers queries from the cluster's record; required.
	Read func(ctx context.Context, queries []adapter.PresenceQuery) ([]int64, error)
	// Refresh, MaxAge, FetchTimeout, MaxEntries and Idle default to the
	// constants of the same names.
	Refresh, MaxAge, FetchTimeout time.Duration
	MaxEntries                    int
	Idle                          time.Duration
	// Logger receives the record's failures (throttled).
	Logger *slog.Logger
}

// Cache keeps the figures the presence expressions read from the
// cluster's record (a room's user count, whether a user is in it), so that
// a guard reads them without waiting on the network. Get answers from
// memory; one goroutine fetches, in one round trip every Refresh, the
// entries read since their last fetch, and those never fetched as soon as
// they are asked for. An answer is never older than MaxAge; the entries
// are at most MaxEntries, and one that nobody reads is forgotten after
// Idle.
type Cache struct {
	opts CacheOptions

	mu      sync.RWMutex
	entries map[adapter.PresenceQuery]*cacheEntry

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	failMu   sync.Mutex
	failures uint64
	logged   time.Time
}

// cacheEntry is one figure: its value, when it was fetched (Unix
// nanoseconds, 0 before the first fetch), whether it was read since, and
// for how many rounds it has not been (kept by the fetching goroutine).
type cacheEntry struct {
	value   atomic.Int64
	fetched atomic.Int64
	read    atomic.Bool
	idle    int
}

// NewCache returns a Cache; Start begins fetching.
func NewCache(opts CacheOptions) *Cache {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdle
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		opts:    opts,
		entries: make(map[adapter.PresenceQuery]*cacheEntry),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Start begins the fetching goroutine, until Close.
func (c *Cache) Start() {
	c.once.Do(func() { go c.run() })
}

// Close stops fetching and waits for the goroutine to end.
func (c *Cache) Close() {
	started := true
	c.once.Do(func() { started = false })
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	if started {
		<-c.done
	}
}

// Count is the number of users of room in namespace, when known.
func (c *Cache) Count(namespace, room string) (int, bool) {
	v, ok := c.get(adapter.PresenceQuery{Namespace: namespace, Room: room})
	return int(v), ok
}

// Has reports whether user is in room of namespace, when known.
func (c *Cache) Has(namespace, room, user string) (bool, bool) {
	v, ok := c.get(adapter.PresenceQuery{Namespace: namespace, Room: room, User: user})
	return v == 1, ok
}

// get answers q from memory when its figure is recent enough, and has it
// fetched otherwise. It never waits on the record.
func (c *Cache) get(q adapter.PresenceQuery) (int64, bool) {
	c.mu.RLock()
	e := c.entries[q]
	c.mu.RUnlock()
	if e == nil {
		c.add(q)
		return 0, false
	}
	if !e.read.Load() {
		e.read.Store(true)
	}
	fetched := e.fetched.Load()
	if fetched == 0 || time.Now().UnixNano()-fetched > int64(c.opts.MaxAge) {
		return 0, false
	}
	return e.value.Load(), true
}

// add makes an entry for q, unless the cache is full, and wakes the
// fetching goroutine.
func (c *Cache) add(q adapter.PresenceQuery) {
	c.mu.Lock()
	if _, ok := c.entries[q]; !ok && len(c.entries) < c.opts.MaxEntries {
		e := &cacheEntry{}
		e.read.Store(true)
		c.entries[q] = e
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Len is the number of entries kept.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// run fetches until Close: every Refresh the entries read since their
// last fetch, and at once those never fetched.
func (c *Cache) run() {
	defer close(c.done)
	tick := time.NewTicker(c.opts.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
			c.fetch(true)
		case <-tick.C:
			c.fetch(false)
		}
	}
}

// fetch reads the entries due (onlyNew: those never fetched) from the
// record, and on a full round forgets those nobody read for Idle.
func (c *Cache) fetch(onlyNew bool) {
	due, entries := c.due(onlyNew)
	for start := 0; start < len(due); start += fetchBatch {
		end := min(start+fetchBatch, len(due))
		at := time.Now().UnixNano()
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.FetchTimeout)
		values, err := c.opts.Read(ctx, due[start:end])
		cancel()
		if err != nil || len(values) != end-start {
			c.failed(err)
			return
		}
		for i, v := range values {
			e := entries[start+i]
			e.value.Store(v)
			e.fetched.Store(at)
		}
	}
}

// due lists the entries to fetch, clearing their read mark, and on a full
// round forgets the idle ones.
func (c *Cache) due(onlyNew bool) ([]adapter.PresenceQuery, []*cacheEntry) {
	idleRounds := int(c.opts.Idle / c.opts.Refresh)
	var queries []adapter.PresenceQuery
	var entries []*cacheEntry
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, e := range c.entries {
		if onlyNew {
			if e.fetched.Load() == 0 {
				queries, entries = append(queries, q), append(entries, e)
			}
			continue
		}
		if !e.read.Swap(false) {
			e.idle++
			if e.idle > idleRounds {
				delete(c.entries, q)
			}
			continue
		}
		e.idle = 0
		queries, entries = append(queries, q), append(entries, e)
	}
	return queries, entries
}

func (c *Cache) failed(err error) {
	c.failMu.Lock()
	c.failures++
	now := time.Now()
	if !c.logged.IsZero() && now.Sub(c.logged) < logInterval {
		c.failMu.Unlock()
		return
	}
	n := c.failures
	c.failures, c.logged = 0, now
	c.failMu.Unlock()
	c.opts.Logger.Warn("presence: the cluster's record cannot be read; expressions answer this node's figures",
		"failures", n, "error", err)
}
