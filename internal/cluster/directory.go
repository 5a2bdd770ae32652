package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// DefaultLease is how long a node's announcement lasts without renewal: a
// node that dies is looked up for at most this long after its last renewal,
// and its sessions are unknown to the others from then on. Renewed every
// third of it, so that two missed renewals do not drop a live node.
const DefaultLease = 5 * time.Second

// cacheFor is how long a node's address, once looked up, is used without
// asking Redis again; a forward that cannot reach the address forgets it.
const cacheFor = time.Second

// lookupTimeout bounds a lookup on a request's path, so that a stalled
// Redis holds the request briefly before it is answered as unknown.
const lookupTimeout = 500 * time.Millisecond

// Directory announces this node's tag and internal address, and looks up
// the other nodes' addresses by tag.
type Directory struct {
	nodes  adapter.NodeDirectory
	tag    string
	addr   string
	lease  time.Duration
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	cache   map[string]cachedAddr
	held    bool // the last announcement took the lease
	stop    context.CancelFunc
	stopped chan struct{}
}

type cachedAddr struct {
	addr  string
	until time.Time
}

// NewDirectory returns the Directory of the node tagged tag, reached at
// addr, with the leases of nodes (DefaultLease when lease is 0).
func NewDirectory(nodes adapter.NodeDirectory, tag, addr string, lease time.Duration, logger *slog.Logger) *Directory {
	if lease <= 0 {
		lease = DefaultLease
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Directory{nodes: nodes, tag: tag, addr: addr, lease: lease, logger: logger, now: time.Now,
		cache: make(map[string]cachedAddr)}
}

// Tag is this node's tag.
func (d *Directory) Tag() string { return d.tag }

// Start announces the node at once and then every third of the lease,
// until Close.
func (d *Directory) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.mu.Lock()
	d.stop, d.stopped = cancel, make(chan struct{})
	d.mu.Unlock()
	d.announce(ctx)
	go d.run(ctx)
}

func (d *Directory) run(ctx context.Context) {
	defer close(d.stopped)
	tick := time.NewTicker(d.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.announce(ctx)
		}
	}
}

// announce takes or renews the lease, logging when that changes.
func (d *Directory) announce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, d.lease/3)
	defer cancel()
	ok, err := d.nodes.AnnounceNode(ctx, d.tag, d.addr, d.lease)
	d.mu.Lock()
	was := d.held
	d.held = ok && err == nil
	d.mu.Unlock()
	switch {
	case err != nil && was:
		d.logger.Warn("cluster: node announcement failed; other gateways forward no requests here once the lease ends",
			"tag", d.tag, "lease", d.lease, "error", err)
	case err == nil && !ok:
		d.logger.Error("cluster: another gateway holds this node's tag; other gateways cannot reach this node's sessions",
			"tag", d.tag, "address", d.addr)
	case ok && !was:
		d.logger.Info("cluster: node announced", "tag", d.tag, "address", d.addr, "lease", d.lease)
	}
}

// Lookup returns the address of the node tagged tag, "" when no node
// holds the tag (or Redis cannot say within a short bound).
func (d *Directory) Lookup(ctx context.Context, tag string) (string, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.cache[tag]
	d.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.addr, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addr, err := d.nodes.LookupNode(ctx, tag)
	if err != nil || addr == "" {
		d.Forget(tag)
		return "", err
	}
	d.mu.Lock()
	// Only addresses of live nodes are kept, so the cache holds at most
	// one entry per node; expired ones are dropped as others are added.
	for t, e := range d.cache {
		if !now.Before(e.until) {
			delete(d.cache, t)
		}
	}
	// The key is a copy: a caller's tag may be read from a request buffer
	// that is reused once the request is answered.
	d.cache[strings.Clone(tag)] = cachedAddr{addr: addr, until: now.Add(cacheFor)}
	d.mu.Unlock()
	return addr, nil
}

// Forget drops the cached address of tag, after it could not be reached.
func (d *Directory) Forget(tag string) {
	d.mu.Lock()
	delete(d.cache, tag)
	d.mu.Unlock()
}

// Close stops the renewals and withdraws the node's announcement, so that
// the others stop forwarding here at once rather than when the lease ends.
func (d *Directory) Close(ctx context.Context) error {
	d.mu.Lock()
	stop, stopped := d.stop, d.stopped
	d.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-stopped
	return d.nodes.WithdrawNode(ctx, d.tag, d.addr)
}
