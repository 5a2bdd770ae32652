package authorizer

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// entry is one answer of the backend, as remembered: an allowance with its
// claims as raw JSON (decoded afresh for each socket, so that the cache
// holds the bytes it counts) or a refusal with its code and message.
type entry struct {
	allow    bool
	claims   []byte
	lifetime time.Duration
	// until is when an allowance with a lifetime ends; zero without one.
	until   time.Time
	code    gatehouse.Code
	message string
}

// decision turns the entry into what Authorize returns at now.
func (e *entry) decision(now time.Time, cached bool) (*Decision, error) {
	if !e.allow {
		return nil, &gatehouse.Error{Code: e.code, Message: e.message}
	}
	d := &Decision{Cached: cached}
	if len(e.claims) > 0 {
		if err := json.Unmarshal(e.claims, &d.Claims); err != nil {
			return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "the authorizer's claims are not a JSON object")
		}
	}
	if !e.until.IsZero() {
		d.Lifetime = max(e.until.Sub(now), 0)
	}
	return d, nil
}

// entryOverhead is what one remembered answer costs beside its claims and
// message: the key twice (map and list), the list element, the entry and
// the map's share, rounded up.
const entryOverhead = 256

func (e *entry) size() int { return entryOverhead + len(e.claims) + len(e.message) }

// cache remembers answers by the hash of their request, least recently
// used out first, within a count and a byte budget.
type cache struct {
	mu    sync.Mutex
	cfg   CacheConfig
	items map[[32]byte]*list.Element
	order *list.List // of *cached, most recently used at the front
	bytes int
}

type cached struct {
	key     [32]byte
	e       *entry
	expires time.Time
}

func newCache(cfg CacheConfig) *cache {
	return &cache{cfg: cfg, items: map[[32]byte]*list.Element{}, order: list.New()}
}

// enabled reports whether the cache keeps anything at all.
func (c *cache) enabled() bool { return c.cfg.Size > 0 && c.cfg.TTL > 0 && c.cfg.MaxBytes > 0 }

// get returns the remembered answer to key, or nil.
func (c *cache) get(key [32]byte, now time.Time) *entry {
	if !c.enabled() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	item := el.Value.(*cached)
	if !now.Before(item.expires) {
		c.removeLocked(el)
		return nil
	}
	c.order.MoveToFront(el)
	return item.e
}

// put remembers e for at most ttl, and never past the end of its lifetime.
func (c *cache) put(key [32]byte, e *entry, now time.Time, ttl time.Duration) {
	if !c.enabled() || e.size() > c.cfg.MaxBytes {
		return
	}
	expires := now.Add(ttl)
	if !e.until.IsZero() && e.until.Before(expires) {
		expires = e.until
	}
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	c.items[key] = c.order.PushFront(&cached{key: key, e: e, expires: expires})
	c.bytes += e.size()
	for c.order.Len() > c.cfg.Size || c.bytes > c.cfg.MaxBytes {
		c.removeLocked(c.order.Back())
	}
}

func (c *cache) removeLocked(el *list.Element) {
	item := c.order.Remove(el).(*cached)
	delete(c.items, item.key)
	c.bytes -= item.e.size()
}

// stats returns how many answers and bytes the cache holds.
func (c *cache) stats() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}
