package roster

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// Defaults of Options.
const (
	// DefaultLease is how long a node's records last without renewal: it
	// renews them every third of it, and the users of a node that stopped
	// renewing leave at the next sweep of another node after it.
	DefaultLease = 15 * time.Second
	// DefaultCallTimeout bounds one call to the record.
	DefaultCallTimeout = 2 * time.Second
	defaultRetryMin    = 100 * time.Millisecond
	defaultRetryMax    = 5 * time.Second
	// logInterval spaces the warnings of a record that keeps failing.
	logInterval = time.Minute
)

// Key names a user in a room of a namespace.
type Key struct{ Namespace, Room, User string }

// Options configure a Tracker.
type Options struct {
	// Record is the cluster's record; required. It announces the changes
	// it decides itself.
	Record adapter.PresenceRecord
	// Lease is the node's lease (DefaultLease when zero).
	Lease time.Duration
	// CallTimeout bounds each call to the record (DefaultCallTimeout).
	CallTimeout time.Duration
	// RetryMin and RetryMax bound the wait before the record is asked
	// again after a failure.
	RetryMin, RetryMax time.Duration
	// Logger receives the record's failures (throttled).
	Logger *slog.Logger
}

// confirmed says what the record last held for this node and a key: the
// node is there, or it may be (after its lease lapsed, until told again).
// A key that is neither is absent from the map.
type confirmed uint8

const (
	confirmedMember confirmed = iota + 1
	confirmedUnknown
)

// localUser is what the node knows of a user of a room it has sockets of:
// the claims shown of it (JSON), whether its coming and going are
// announced, and its first socket here, not told of its own join.
type localUser struct {
	claims   []byte
	announce bool
	socket   string
}

// Tracker turns the node's presence changes (a user's first socket on the
// node joining a room, its last leaving) into the cluster's. Changed never
// waits: it records what the node wants the record to hold, and one
// goroutine tells the record, a key at a time, retrying while it is
// unreachable; the record announces what it decides. A user that joins
// and leaves before the record was told needs telling nothing (and is
// announced neither way), so what waits is bounded by the (room, user)
// pairs the node has sockets for or had when the record was last reached,
// however fast clients churn.
type Tracker struct {
	opts Options

	mu    sync.Mutex
	local map[Key]localUser
	known map[Key]confirmed
	dirty map[Key]struct{}
	// telling is 1 while a change taken from dirty is being told.
	telling int
	// epoch counts the times the lease was found lapsed: a change told
	// in an earlier epoch may have been swept since.
	epoch  uint64
	wake   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	cancel context.CancelFunc

	failMu   sync.Mutex
	failures uint64
	logged   time.Time
}

// NewTracker returns a Tracker; Start begins telling the record.
func NewTracker(opts Options) *Tracker {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = defaultRetryMin
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(defaultRetryMax, opts.RetryMin)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{
		opts:  opts,
		local: make(map[Key]localUser),
		known: make(map[Key]confirmed),
		dirty: make(map[Key]struct{}),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
}

// Start begins the goroutine that keeps the node's lease, tells the record
// the node's changes and sweeps dead nodes, until Close. Calls after the
// first do nothing.
func (t *Tracker) Start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.done.Add(2)
	go t.run(ctx)
	go t.keep(ctx)
}

// Joined is told that the first socket of user on this node joined room
// of namespace, with the claims shown of it (JSON) and whether the room
// announces its users. Calls for one key must come in the order of the
// changes (the Socket.IO server makes them under the namespace's lock), so
// Joined and Left are quick and never wait on the record.
func (t *Tracker) Joined(namespace, room, user, socket string, claims []byte, announce bool) {
	t.changed(Key{namespace, room, user}, &localUser{claims: claims, announce: announce, socket: socket})
}

// Left is told that the last socket of user on this node left room of
// namespace.
func (t *Tracker) Left(namespace, room, user string) {
	t.changed(Key{namespace, room, user}, nil)
}

// changed records that the node wants u for key (nil: nothing).
func (t *Tracker) changed(key Key, u *localUser) {
	t.mu.Lock()
	if u != nil {
		t.local[key] = *u
	} else {
		if _, ok := t.local[key]; !ok {
			if _, recorded := t.known[key]; !recorded {
				t.mu.Unlock()
				return
			}
		}
		delete(t.local, key)
	}
	if t.settledLocked(key) {
		delete(t.dirty, key)
	} else {
		t.dirty[key] = struct{}{}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// settledLocked reports whether the record already holds what the node
// wants for key.
func (t *Tracker) settledLocked(key Key) bool {
	_, wanted := t.local[key]
	state, recorded := t.known[key]
	if wanted {
		return state == confirmedMember
	}
	return !recorded
}

// Close tells the record what is left to tell (the users whose sockets
// closed), then takes the node out of every room it is still recorded in,
// announcing the users who left the cluster with it, within ctx.
func (t *Tracker) Close(ctx context.Context) error {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.mu.Lock()
	started := t.cancel != nil
	t.mu.Unlock()
	if !started {
		return nil
	}
	done := make(chan struct{})
	go func() { t.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.cancel()
		<-done
	}
	if _, err := t.opts.Record.PresenceLeaveAll(ctx); err != nil {
		return fmt.Errorf("leave the cluster's record: %w", err)
	}
	return nil
}

// keep renews the lease and sweeps lapsed nodes every third of the lease
// until Close, on a goroutine of its own so that a long run of changes to
// tell never lets the lease lapse.
func (t *Tracker) keep(ctx context.Context) {
	defer t.done.Done()
	lease := time.NewTicker(t.opts.Lease / 3)
	defer lease.Stop()
	for {
		select {
		case <-lease.C:
			t.renew(ctx)
			t.sweep(ctx)
		case <-t.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// run tells the record the node's changes until Close.
func (t *Tracker) run(ctx context.Context) {
	defer t.done.Done()
	t.renew(ctx)
	wait := t.opts.RetryMin
	var retry <-chan time.Time
	for {
		if t.tell(ctx) {
			wait = t.opts.RetryMin
			retry = nil
		} else if retry == nil {
			retry = time.After(wait/2 + rand.N(wait/2+1))
			wait = min(2*wait, t.opts.RetryMax)
		}
		select {
		case <-t.wake:
		case <-retry:
			retry = nil
		case <-t.stop:
			t.tell(ctx)
			return
		case <-ctx.Done():
			return
		}
	}
}

// renew extends the node's lease and its records' expiry. When the lease
// had lapsed (or never existed), other nodes may have swept the node's
// records meanwhile, so every key the node has or had a record of is told
// again.
func (t *Tracker) renew(ctx context.Context) {
	rooms := t.rooms()
	callCtx, cancel := context.WithTimeout(ctx, t.opts.CallTimeout)
	defer cancel()
	rejoined, err := t.opts.Record.PresenceKeepAlive(callCtx, t.opts.Lease, rooms)
	if err != nil {
		t.failed("renew lease", err)
		return
	}
	if !rejoined {
		return
	}
	t.mu.Lock()
	t.epoch++
	for key := range t.known {
		t.known[key] = confirmedUnknown
		t.dirty[key] = struct{}{}
	}
	for key := range t.local {
		t.known[key] = confirmedUnknown
		t.dirty[key] = struct{}{}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// rooms lists, once each, the rooms the node has or may have records in.
func (t *Tracker) rooms() []adapter.PresenceQuery {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := make(map[adapter.PresenceQuery]struct{}, len(t.local))
	add := func(key Key) {
		seen[adapter.PresenceQuery{Namespace: key.Namespace, Room: key.Room}] = struct{}{}
	}
	for key := range t.local {
		add(key)
	}
	for key := range t.known {
		add(key)
	}
	out := make([]adapter.PresenceQuery, 0, len(seen))
	for q := range seen {
		out = append(out, q)
	}
	return out
}

// sweep takes the users of nodes whose lease lapsed out of their rooms (the
// record announces those who left).
func (t *Tracker) sweep(ctx context.Context) {
	callCtx, cancel := context.WithTimeout(ctx, t.opts.CallTimeout)
	defer cancel()
	left, err := t.opts.Record.PresenceSweep(callCtx)
	if err != nil {
		t.failed("sweep lapsed nodes", err)
		return
	}
	if len(left) > 0 {
		t.opts.Logger.Info("presence: users of nodes that stopped renewing their lease left their rooms", "users", len(left))
	}
}

// tell hands the record each waiting change, a key at a time, and reports
// false when the record failed (the change waits for the next try).
func (t *Tracker) tell(ctx context.Context) bool {
	for {
		key, want, epoch, ok := t.nextChange()
		if !ok {
			return true
		}
		if err := t.tellOne(ctx, key, want); err != nil {
			t.mu.Lock()
			t.telling = 0
			if !t.settledLocked(key) {
				t.dirty[key] = struct{}{}
			}
			t.mu.Unlock()
			t.failed("record presence", err)
			return false
		}
		t.recorded(key, want.ok, epoch)
	}
}

// wanted is what the node wants the record to hold for a key: the user
// (ok) with its claims, or nothing.
type wanted struct {
	localUser
	ok bool
}

// tellOne tells the record one key.
func (t *Tracker) tellOne(ctx context.Context, key Key, want wanted) error {
	ctx, cancel := context.WithTimeout(ctx, t.opts.CallTimeout)
	defer cancel()
	var err error
	if want.ok {
		_, err = t.opts.Record.PresenceJoin(ctx, t.opts.Lease, key.Namespace, key.Room, key.User,
			want.claims, want.announce, want.socket)
	} else {
		_, err = t.opts.Record.PresenceLeave(ctx, key.Namespace, key.Room, key.User, "")
	}
	return err
}

// nextChange takes a key whose record differs from what the node wants,
// what it wants, and the lease's epoch.
func (t *Tracker) nextChange() (Key, wanted, uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key := range t.dirty {
		delete(t.dirty, key)
		if t.settledLocked(key) {
			continue
		}
		u, ok := t.local[key]
		t.telling = 1
		return key, wanted{localUser: u, ok: ok}, t.epoch, true
	}
	return Key{}, wanted{}, 0, false
}

// recorded notes what the record now holds for key, told in epoch; a
// change made meanwhile is already marked dirty by Changed. A join told
// before the lease was found lapsed may have been swept since: it is told
// again.
func (t *Tracker) recorded(key Key, member bool, epoch uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.telling = 0
	switch {
	case member && epoch != t.epoch:
		t.known[key] = confirmedUnknown
	case member:
		t.known[key] = confirmedMember
	default:
		delete(t.known, key)
	}
	if !t.settledLocked(key) {
		t.dirty[key] = struct{}{}
	}
}

func (t *Tracker) failed(what string, err error) {
	t.failMu.Lock()
	t.failures++
	now := time.Now()
	if !t.logged.IsZero() && now.Sub(t.logged) < logInterval {
		t.failMu.Unlock()
		return
	}
	n := t.failures
	t.failures, t.logged = 0, now
	t.failMu.Unlock()
	t.opts.Logger.Warn("presence: the cluster's record is unreachable", "doing", what, "failures", n, "error", err)
}

// Pending counts the keys waiting to be told or being told.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.dirty) + t.telling
}

// Tracked counts the keys the node has sockets for or a record of: the
// tracker's memory is proportional to it.
func (t *Tracker) Tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.local) + len(t.known)
}
