package gatehousetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// Emitted is one event a handler emitted to its socket.
type Emitted struct {
	Event string
	Args  []any
}

// Recorder is a fake gatehouse.Socket that records what a handler does to
// it: the events it emits, the broadcasts it sends, the rooms it joins and
// leaves. It reports its SocketFields (the rooms change as it joins and
// leaves) and is safe for concurrent use.
type Recorder struct {
	f SocketFields

	mu         sync.Mutex
	rooms      map[string]bool
	emits      []Emitted
	broadcasts []gatehouse.Broadcast
	joins      []string
	leaves     []string
	ackWith    []json.RawMessage
	ackErr     error
	fail       error
}

var _ gatehouse.Socket = (*Recorder)(nil)

// NewRecorder returns a recording socket reporting f, in the rooms f lists.
func NewRecorder(f SocketFields) *Recorder {
	r := &Recorder{f: f, rooms: map[string]bool{}}
	for _, room := range f.Rooms {
		r.rooms[room] = true
	}
	return r
}

// AnswerAcks sets what EmitWithAck answers: the client's ack arguments, or
// err (such as a timeout).
func (r *Recorder) AnswerAcks(args []json.RawMessage, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ackWith, r.ackErr = args, err
}

// FailWith makes Emit, EmitWithAck, Join, Leave and Broadcast return err
// without recording, as a socket that has gone does; nil restores them.
func (r *Recorder) FailWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// Emits returns the events emitted so far, in order.
func (r *Recorder) Emits() []Emitted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.emits)
}

// Broadcasts returns the broadcasts sent so far, in order.
func (r *Recorder) Broadcasts() []gatehouse.Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.broadcasts)
}

// Joins returns the rooms joined so far, in order.
func (r *Recorder) Joins() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.joins)
}

// Leaves returns the rooms left so far, in order.
func (r *Recorder) Leaves() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.leaves)
}

// ID returns SocketFields.ID.
func (r *Recorder) ID() string { return r.f.ID }

// Namespace returns SocketFields.Namespace.
func (r *Recorder) Namespace() string { return r.f.Namespace }

// Claims returns SocketFields.Claims.
func (r *Recorder) Claims() gatehouse.Claims { return r.f.Claims }

// RemoteIP returns SocketFields.IP.
func (r *Recorder) RemoteIP() string { return r.f.IP }

// Header returns "".
func (r *Recorder) Header(string) string { return "" }

// Transport returns "websocket".
func (r *Recorder) Transport() string { return "websocket" }

// Disconnect does nothing.
func (r *Recorder) Disconnect(string) {}

// Rooms returns the rooms the socket is in, sorted.
func (r *Recorder) Rooms() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	rooms := make([]string, 0, len(r.rooms))
	for room := range r.rooms {
		rooms = append(rooms, room)
	}
	slices.Sort(rooms)
	return rooms
}

// InRoom reports whether the socket is in room.
func (r *Recorder) InRoom(room string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms[room]
}

// Emit records the event.
func (r *Recorder) Emit(event string, args ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.emits = append(r.emits, Emitted{Event: event, Args: args})
	return nil
}

// EmitWithAck records the event and answers as AnswerAcks set.
func (r *Recorder) EmitWithAck(_ context.Context, event string, args ...any) ([]json.RawMessage, error) {
	if err := r.Emit(event, args...); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ackErr != nil {
		return nil, r.ackErr
	}
	return r.ackWith, nil
}

// Join puts the socket in room and records it.
func (r *Recorder) Join(room string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.rooms[room] = true
	r.joins = append(r.joins, room)
	return nil
}

// Leave takes the socket out of room and records it.
func (r *Recorder) Leave(room string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	delete(r.rooms, room)
	r.leaves = append(r.leaves, room)
	return nil
}

// Broadcast records msg.
func (r *Recorder) Broadcast(_ context.Context, msg gatehouse.Broadcast) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.broadcasts = append(r.broadcasts, msg)
	return nil
}
