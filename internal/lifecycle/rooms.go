package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// DefaultNodeTimeout is how long a node's lease on its rooms lasts without
// renewal, when RoomsOptions leave it zero.
const DefaultNodeTimeout = 15 * time.Second

// RoomsOptions configure Rooms.
type RoomsOptions struct {
	// Emit receives the room events (Sender.Emit, filtered by kind).
	Emit func(Event)
	// Occupancy is the cluster's record of which nodes have members in
	// which rooms; nil on a single node, where a room's local changes are
	// the cluster's.
	Occupancy adapter.Occupancy
	// NodeTimeout is the node's lease: renewed every third of it, and the
	// time after which the rooms of a node that stopped renewing are
	// vacated by another.
	NodeTimeout time.Duration
	// RetryMin and RetryMax bound the wait before Occupancy is asked again
	// after a failure.
	RetryMin, RetryMax time.Duration
	// Logger receives Occupancy failures (throttled).
	Logger *slog.Logger
	// Now is the clock of single-node events.
	Now func() time.Time
}

// roomKey names a room of a namespace.
type roomKey struct{ namespace, room string }

// confirmed says what Occupancy last recorded for this node and a room:
// the node is a member, or it may be (after its lease lapsed, until asked
// again). A room that is neither is absent from the map.
type confirmed uint8

const (
	confirmedMember confirmed = iota + 1
	confirmedUnknown
)

// Rooms turns the node's room changes into cluster-wide room_occupied and
// room_vacated events. Changed never waits: on a cluster it records what
// the node wants Occupancy to know, and one goroutine tells it, a room at a
// time, retrying while Occupancy is unreachable. A room that fills and
// empties before Occupancy was told needs telling nothing, so what waits is
// bounded by the rooms that have members on the node or had them when
// Occupancy was last reached, however fast clients churn.
type Rooms struct {
	opts RoomsOptions

	mu    sync.Mutex
	local map[roomKey]struct{}
	known map[roomKey]confirmed
	dirty map[roomKey]struct{}
	// telling is 1 while a change taken from dirty is being told.
	telling int
	wake    chan struct{}
	done    chan struct{}
	stop    chan struct{}
	// cancel ends run; nil until Start.
	cancel context.CancelFunc

	failureLog throttle
}

// NewRooms returns Rooms; on a cluster, Start begins telling Occupancy.
func NewRooms(opts RoomsOptions) *Rooms {
	setDefault(&opts.NodeTimeout, DefaultNodeTimeout)
	setDefault(&opts.RetryMin, DefaultRetryMin)
	setDefault(&opts.RetryMax, DefaultRetryMax)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Rooms{
		opts:  opts,
		local: make(map[roomKey]struct{}),
		known: make(map[roomKey]confirmed),
		dirty: make(map[roomKey]struct{}),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		stop:  make(chan struct{}),
	}
	if opts.Occupancy == nil {
		close(r.done)
	}
	return r
}

// Start begins, on a cluster, the goroutine that keeps the node's lease and
// tells Occupancy the node's changes, until Close. Calls after the first do
// nothing.
func (r *Rooms) Start() {
	if r.opts.Occupancy == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
}

// Changed is told that room of namespace got its first member on this node
// (occupied) or lost its last one. Calls for one room must come in the
// order of the changes (the Socket.IO server makes them under the
// namespace's lock); Changed must therefore be quick, and is.
func (r *Rooms) Changed(namespace, room string, occupied bool) {
	if r.opts.Occupancy == nil {
		kind := KindRoomVacated
		if occupied {
			kind = KindRoomOccupied
		}
		r.opts.Emit(Event{Type: kind, Namespace: namespace, Room: room, Time: r.opts.Now()})
		return
	}
	key := roomKey{namespace, room}
	r.mu.Lock()
	if occupied {
		r.local[key] = struct{}{}
	} else {
		delete(r.local, key)
	}
	if r.settledLocked(key) {
		delete(r.dirty, key)
	} else {
		r.dirty[key] = struct{}{}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// settledLocked reports whether Occupancy already records what the node
// wants for key.
func (r *Rooms) settledLocked(key roomKey) bool {
	_, wanted := r.local[key]
	state, recorded := r.known[key]
	if wanted {
		return state == confirmedMember
	}
	return !recorded
}

// Close tells Occupancy what is left to tell (the rooms the node's closed
// sockets emptied), then takes the node out of every room it is still
// recorded in, vacating those it was the last member of, within ctx.
func (r *Rooms) Close(ctx context.Context) error {
	if r.opts.Occupancy == nil {
		return nil
	}
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.mu.Lock()
	started := r.cancel != nil
	r.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	vacated, err := r.opts.Occupancy.Leave(ctx)
	r.emitVacated(vacated)
	return err
}

// run keeps the lease and tells Occupancy the node's changes until Close.
func (r *Rooms) run(ctx context.Context) {
	defer close(r.done)
	lease := time.NewTicker(r.opts.NodeTimeout / 3)
	defer lease.Stop()
	r.renew(ctx)
	wait := r.opts.RetryMin
	var retry <-chan time.Time
	for {
		if r.tell(ctx) {
			wait = r.opts.RetryMin
			retry = nil
		} else if retry == nil {
			retry = time.After(jitter(wait))
			wait = min(2*wait, r.opts.RetryMax)
		}
		select {
		case <-r.wake:
		case <-retry:
			retry = nil
		case <-lease.C:
			r.renew(ctx)
			r.sweep(ctx)
		case <-r.stop:
			r.tell(ctx)
			return
		case <-ctx.Done():
			return
		}
	}
}

// renew extends the node's lease. When the lease had lapsed (or never
// existed), other nodes may have vacated the node's rooms meanwhile, so
// every room the node has or had a record of is told again.
func (r *Rooms) renew(ctx context.Context) {
	rejoined, err := r.opts.Occupancy.KeepAlive(ctx, r.opts.NodeTimeout)
	if err != nil {
		r.failed("renew lease", err)
		return
	}
	if !rejoined {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.known {
		r.known[key] = confirmedUnknown
		r.dirty[key] = struct{}{}
	}
	for key := range r.local {
		r.known[key] = confirmedUnknown
		r.dirty[key] = struct{}{}
	}
}

// sweep vacates the rooms of nodes whose lease lapsed; of the nodes that
// sweep, the one whose sweep empties a room sends its event.
func (r *Rooms) sweep(ctx context.Context) {
	vacated, err := r.opts.Occupancy.Sweep(ctx)
	if err != nil {
		r.failed("sweep lapsed nodes", err)
		return
	}
	r.emitVacated(vacated)
}

func (r *Rooms) emitVacated(rooms []adapter.RoomChange) {
	for _, room := range rooms {
		r.opts.Emit(Event{Type: KindRoomVacated, Namespace: room.Namespace, Room: room.Room, Time: room.At})
	}
}

// tell hands Occupancy each waiting change, a room at a time, and reports
// false when Occupancy failed (the change waits for the next try).
func (r *Rooms) tell(ctx context.Context) bool {
	for {
		key, want, ok := r.nextChange()
		if !ok {
			return true
		}
		var crossed bool
		var at time.Time
		var err error
		if want {
			crossed, at, err = r.opts.Occupancy.Occupy(ctx, key.namespace, key.room)
		} else {
			crossed, at, err = r.opts.Occupancy.Vacate(ctx, key.namespace, key.room)
		}
		if err != nil {
			r.mu.Lock()
			r.telling = 0
			if !r.settledLocked(key) {
				r.dirty[key] = struct{}{}
			}
			r.mu.Unlock()
			r.failed("record room", err)
			return false
		}
		r.recorded(key, want)
		if crossed {
			kind := KindRoomVacated
			if want {
				kind = KindRoomOccupied
			}
			r.opts.Emit(Event{Type: kind, Namespace: key.namespace, Room: key.room, Time: at})
		}
	}
}

// nextChange takes a room whose record differs from what the node wants,
// and what it wants.
func (r *Rooms) nextChange() (roomKey, bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.dirty {
		delete(r.dirty, key)
		if r.settledLocked(key) {
			continue
		}
		_, want := r.local[key]
		r.telling = 1
		return key, want, true
	}
	return roomKey{}, false, false
}

// recorded notes what Occupancy now records for key; a change made
// meanwhile is already marked dirty by Changed.
func (r *Rooms) recorded(key roomKey, member bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.telling = 0
	if member {
		r.known[key] = confirmedMember
	} else {
		delete(r.known, key)
	}
	if !r.settledLocked(key) {
		r.dirty[key] = struct{}{}
	}
}

func (r *Rooms) failed(what string, err error) {
	if n, ok := r.failureLog.tick(time.Now()); ok {
		r.opts.Logger.Warn("lifecycle hooks: room occupancy unreachable", "doing", what, "failures", n, "error", err)
	}
}

// pending counts the rooms waiting to be told or being told.
func (r *Rooms) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dirty) + r.telling
}
