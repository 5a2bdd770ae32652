package lifecycle

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// Hooks is what the gateway calls: a Sender for the events, Rooms for the
// room changes, and the kinds the backend asked for.
type Hooks struct {
	sender *Sender
	rooms  *Rooms // nil when neither room kind is wanted
	kinds  map[string]bool
	// order makes a socket's presence change and the append of its event
	// one step, so that a disconnect racing its connect's hook is never
	// sent before it.
	order sync.Mutex
}

// Presence is what Hooks keep for one socket: whether its connect event
// was sent, so that its disconnect is sent only then, and after it.
type Presence struct{ state atomic.Uint32 }

const (
	presenceConnected uint32 = iota + 1
	presenceGone
)

// New returns Hooks sending the given kinds (all of them when empty) with
// sender, and tracking rooms with rooms' options when a room kind is
// wanted. Events are buffered from now on; Start begins sending them.
func New(sender *Sender, kinds []string, rooms RoomsOptions) *Hooks {
	if len(kinds) == 0 {
		kinds = Kinds
	}
	h := &Hooks{sender: sender, kinds: make(map[string]bool)}
	for _, kind := range kinds {
		h.kinds[kind] = true
	}
	if h.kinds[KindRoomOccupied] || h.kinds[KindRoomVacated] {
		rooms.Emit = h.emitRoom
		h.rooms = NewRooms(rooms)
	}
	return h
}

// Start begins posting events and, on a cluster, keeping the node's room
// records; both run until Close.
func (h *Hooks) Start() {
	h.sender.Start()
	if h.rooms != nil {
		h.rooms.Start()
	}
}

// TracksRooms reports whether RoomChanged needs calling at all.
func (h *Hooks) TracksRooms() bool { return h.rooms != nil }

// Connected sends the connect event of a socket, unless it is already gone.
func (h *Hooks) Connected(p *Presence, namespace, socket, user string) {
	h.order.Lock()
	defer h.order.Unlock()
	if !p.state.CompareAndSwap(0, presenceConnected) || !h.kinds[KindConnect] {
		return
	}
	h.sender.Emit(Event{Type: KindConnect, Namespace: namespace, Socket: socket, User: user})
}

// Disconnected sends the disconnect event of a socket whose connect event
// was sent (or would have been, were connect wanted).
func (h *Hooks) Disconnected(p *Presence, namespace, socket, user, reason string) {
	h.order.Lock()
	defer h.order.Unlock()
	if p.state.Swap(presenceGone) != presenceConnected || !h.kinds[KindDisconnect] {
		return
	}
	h.sender.Emit(Event{Type: KindDisconnect, Namespace: namespace, Socket: socket, User: user, Reason: reason})
}

// RoomChanged is told that room got its first member on this node, or lost
// its last; see Rooms.Changed.
func (h *Hooks) RoomChanged(namespace, room string, occupied bool) {
	if h.rooms != nil {
		h.rooms.Changed(namespace, room, occupied)
	}
}

func (h *Hooks) emitRoom(ev Event) {
	if h.kinds[ev.Type] {
		h.sender.Emit(ev)
	}
}

// Stats are the Sender's counts.
func (h *Hooks) Stats() Stats { return h.sender.Stats() }

// RoomsPending counts the rooms whose change the cluster's Occupancy has
// not recorded yet (0 on one node).
func (h *Hooks) RoomsPending() int {
	if h.rooms == nil {
		return 0
	}
	return h.rooms.pending()
}

// Close records the node's last room changes, leaves the cluster's rooms,
// then delivers what is buffered, all within ctx.
func (h *Hooks) Close(ctx context.Context) error {
	var errs []error
	if h.rooms != nil {
		errs = append(errs, h.rooms.Close(ctx))
	}
	errs = append(errs, h.sender.Close(ctx))
	return errors.Join(errs...)
}

// ValidKind reports whether kind names an event kind.
func ValidKind(kind string) bool { return slices.Contains(Kinds, kind) }
