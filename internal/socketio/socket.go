package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// Errors of socket operations.
var (
	// ErrDisconnected is returned by operations on a socket that has left
	// its namespace.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrAckTimeout is returned by EmitWithAck when the client did not
	// acknowledge in time.
	ErrAckTimeout = errors.New("socketio: acknowledgement timed out")
)

// Socket is one client connected to one namespace. It implements
// gatehouse.Socket; its methods are safe for concurrent use.
//
// An idle socket keeps this one object (and its place in the namespace's
// index): what only some sockets need (a context channel, acknowledgements
// awaited, session recovery, events that arrive while it is set up) hangs
// from one pointer made on first need (more), and its context is its own
// fields (socketContext).
type Socket struct {
	id     string
	client *client
	ns     *namespaceIndex

	// mu guards onEnd, what more holds but rec, and ready: short sections
	// that call nothing outside the socket.
	mu sync.Mutex
	// onEnd runs once when the socket ends (see OnEnd).
	onEnd func()
	more  atomic.Pointer[socketExtras]
	flags atomic.Uint32 // socketFlag bits
	// registered is guarded by ns.mu; recovered is set before the socket
	// is published. The three share flags' 8 bytes, which keeps the
	// Socket in the 128-byte size class.
	registered bool
	ready      bool
	recovered  bool

	claims atomic.Pointer[socketClaims]
	// attached is the layer above's state of the socket (see AttachOnce):
	// one typed value it owns, rather than values under string keys.
	attached atomic.Value

	// Guarded by ns.mu: the rooms joined, the subject the socket is indexed
	// under, and its neighbours among the sockets of that subject (a list
	// through the sockets rather than a set per user).
	rooms      map[string]struct{}
	subject    string
	prevOfUser *Socket
	nextOfUser *Socket
}

// socketFlag is one bit of Socket.flags: one atomic word for both rather
// than an atomic.Bool each.
type socketFlag uint32

const (
	// flagEnded: the socket's context is done.
	flagEnded socketFlag = 1 << iota
	// flagClosed: the socket left its namespace, or is leaving it.
	flagClosed
)

// has reports whether flag f is set.
func (s *Socket) has(f socketFlag) bool { return socketFlag(s.flags.Load())&f != 0 }

// set sets flag f and reports whether it was set already.
func (s *Socket) set(f socketFlag) (already bool) { return socketFlag(s.flags.Or(uint32(f)))&f != 0 }

// socketExtras is what only some sockets need, made on first need (see
// Socket.extras); its fields but rec are guarded by the socket's mu.
type socketExtras struct {
	// done and afterEnd are the socket's context's (see socketContext).
	done     chan struct{}
	afterEnd map[*func()]struct{}
	// acks are the acknowledgements this side awaits.
	acks ackTable
	// rec is the socket's recovery state in a namespace that recovers
	// sessions, nil elsewhere; set before the socket is published.
	rec *recoveryState
	// early holds the events received while the Connected hook runs, so
	// that on-connect work (joining rooms) happens before the first event;
	// empty once ready.
	early earlyEvents
}

// extras returns the socket's extras, making them on first need.
func (s *Socket) extras() *socketExtras {
	if x := s.more.Load(); x != nil {
		return x
	}
	if x := new(socketExtras); s.more.CompareAndSwap(nil, x) {
		return x
	}
	return s.more.Load()
}

// recovery is the socket's recovery state, nil outside a namespace that
// recovers sessions.
func (s *Socket) recovery() *recoveryState {
	if x := s.more.Load(); x != nil {
		return x.rec
	}
	return nil
}

// ackTable numbers a socket's EmitWithAck calls and keeps those waiting.
type ackTable struct {
	nextID  int64
	waiting map[int64]chan []json.RawMessage
	// elsewhere, set on a socket that moved here from another node, takes
	// the acknowledgements the client owed that node.
	elsewhere func(id int64, args []json.RawMessage)
}

// recoveryState is what a socket of a namespace that recovers sessions
// keeps: the private session id, the stream offset when the socket
// connected, and the live packets held while it catches up (nil but while
// it does).
type recoveryState struct {
	pid   string
	start string
	mu    sync.Mutex
	hold  *holdState
	// caughtUp is the offset of the last packet a catch-up read from the
	// stream (empty before one ends): a live packet recorded at or before
	// it was sent by the catch-up.
	caughtUp string
}

// earlyEvents are the events held before a socket is set up.
type earlyEvents struct {
	events []inboundEvent
	bytes  int64
}

var _ gatehouse.Socket = (*Socket)(nil)

type inboundEvent struct {
	name string
	args gatehouse.Args
	ack  AckFunc
}

func newSocket(c *client, ns *namespaceIndex) *Socket {
	return &Socket{id: newSocketID(), client: c, ns: ns}
}

// newSocketID returns 120 random bits in base64url, the length of the
// reference server's ids; collisions are not a practical concern.
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cancel ends the socket's context and runs its OnEnd function.
func (s *Socket) cancel() {
	s.ctx().end()
	if f := s.takeOnEnd(); f != nil {
		f()
	}
}

// takeOnEnd returns the OnEnd function, which then runs nowhere else.
func (s *Socket) takeOnEnd() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.onEnd
	s.onEnd = nil
	return f
}

// OnEnd has f run once when the socket ends: when it leaves its namespace,
// or when its CONNECT is refused or abandoned. It keeps one function, for
// the layer above (a second call replaces the first), at the cost of a
// field: unlike context.AfterFunc on the socket's context, which would
// give every idle socket's context a map of its children.
func (s *Socket) OnEnd(f func()) {
	s.mu.Lock()
	s.onEnd = f
	s.mu.Unlock()
	if s.has(flagEnded) {
		// Ended meanwhile: run it unless cancel already took it.
		if g := s.takeOnEnd(); g != nil {
			g()
		}
	}
}

// Recovered reports whether the socket resumed the session of an earlier
// one whose connection was lost (connection state recovery).
func (s *Socket) Recovered() bool { return s.recovered }

// pid is the socket's private session id, "" outside a namespace that
// recovers sessions.
func (s *Socket) pid() string {
	if rec := s.recovery(); rec != nil {
		return rec.pid
	}
	return ""
}

// ID is the socket id, sent to the client in the CONNECT ack.
func (s *Socket) ID() string { return s.id }

// Namespace is the namespace name, such as "/chat".
func (s *Socket) Namespace() string { return s.ns.name }

// Rooms lists the rooms the socket joined, sorted; its own id is not listed.
func (s *Socket) Rooms() []string { return s.ns.roomsOf(s) }

// InRoom reports whether the socket joined room.
func (s *Socket) InRoom(room string) bool { return s.ns.inRoom(s, room) }

// Logger is the server's logger (Options.Logger), for what the layer above
// reports about the socket.
func (s *Socket) Logger() *slog.Logger { return s.client.server.log }

// Handshake is the first request of the socket's Engine.IO session.
func (s *Socket) Handshake() *engineio.Handshake { return s.client.conn.Handshake() }

// RemoteIP is the client address of the handshake request.
func (s *Socket) RemoteIP() string {
	if hs := s.Handshake(); hs != nil {
		return hs.RemoteIP
	}
	return ""
}

// Header returns a header of the handshake request.
func (s *Socket) Header(name string) string {
	if hs := s.Handshake(); hs != nil {
		return hs.Header.Get(name)
	}
	return ""
}

// Transport is the session's current transport, "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Context is cancelled when the socket disconnects.
func (s *Socket) Context() context.Context { return s.ctx() }

// ctx is the socket as its context.
func (s *Socket) ctx() *socketContext { return (*socketContext)(s) }

// Attached returns the value the layer above attached to the socket with
// AttachOnce, nil before it attached one.
func (s *Socket) Attached() any { return s.attached.Load() }

// AttachOnce attaches v, the layer above's state of the socket, unless a
// value is attached already, and returns the attached value: v, or the one
// attached first. Every value attached to sockets must be of one type. The
// layer above may attach on first need, so that a socket it keeps nothing
// for holds nothing.
func (s *Socket) AttachOnce(v any) any {
	if s.attached.CompareAndSwap(nil, v) {
		return v
	}
	return s.attached.Load()
}

// Emit sends an event to this socket only; arguments are encoded as
// documented on gatehouse.Socket.Emit.
func (s *Socket) Emit(event string, args ...any) error {
	if s.recovery() != nil {
		// Recorded, to reach the client again if its connection drops
		// before it arrives: a socket id works as a room.
		return s.client.server.recovery.Record(s.ctx(), s.ns.name, []string{s.id}, nil, event, args)
	}
	msgs, err := EncodeEvent(s.ns.name, NoID, event, args...)
	if err != nil {
		return err
	}
	return s.send(msgs)
}

// EmitWithAck sends an event that the client acknowledges and waits for
// the acknowledgement's arguments. Binary parts of the client's answer are
// not returned (their placeholders are). It fails with ErrAckTimeout after
// the server's AckTimeout, with ErrDisconnected when the socket leaves
// first, or with ctx's error.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	reply := make(chan []json.RawMessage, 1)
	s.mu.Lock()
	if s.has(flagClosed) {
		s.mu.Unlock()
		return nil, ErrDisconnected
	}
	acks := &s.extras().acks
	id := acks.nextID
	acks.nextID++
	if acks.waiting == nil {
		acks.waiting = make(map[int64]chan []json.RawMessage)
	}
	acks.waiting[id] = reply
	s.mu.Unlock()
	defer s.dropAck(id)

	msgs, err := EncodeEvent(s.ns.name, id, event, args...)
	if err != nil {
		return nil, err
	}
	if err := s.send(msgs); err != nil {
		return nil, err
	}
	timer := time.NewTimer(s.client.server.ackTimeout)
	defer timer.Stop()
	select {
	case answer := <-reply:
		return answer, nil
	case <-timer.C:
		return nil, fmt.Errorf("event %q: %w", event, ErrAckTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.ctx().Done():
		return nil, ErrDisconnected
	}
}

func (s *Socket) dropAck(id int64) {
	s.mu.Lock()
	delete(s.extras().acks.waiting, id)
	s.mu.Unlock()
}

// onAck hands a client's acknowledgement to the EmitWithAck waiting for it;
// an unknown id (late or never asked for) is ignored, as in the reference.
func (s *Socket) onAck(id int64, args []json.RawMessage) {
	var reply chan []json.RawMessage
	var elsewhere func(id int64, args []json.RawMessage)
	s.mu.Lock()
	if x := s.more.Load(); x != nil {
		reply = x.acks.waiting[id]
		delete(x.acks.waiting, id)
		elsewhere = x.acks.elsewhere
	}
	s.mu.Unlock()
	if reply != nil {
		reply <- args // buffered, and only ever sent to once
	} else if elsewhere != nil {
		elsewhere(id, args)
	}
}

// Join adds the socket to room. Its own id needs no joining.
func (s *Socket) Join(room string) error {
	if room == "" {
		return errors.New("socketio: empty room name")
	}
	if room == s.id {
		return nil
	}
	err := s.ns.join(s, room)
	if err != nil && !errors.Is(err, ErrDisconnected) {
		s.client.server.refused(LimitRooms)
	}
	return err
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) error {
	s.ns.leave(s, room)
	return nil
}

// Broadcast sends an event to the socket's namespace or to the rooms of
// msg, on every node when a Remote is configured.
func (s *Socket) Broadcast(ctx context.Context, msg gatehouse.Broadcast) error {
	var except []string
	if msg.ExceptSender {
		except = []string{s.id}
	}
	return s.client.server.Broadcast(ctx, s.ns.name, msg.Rooms, except, msg.Event, msg.Args...)
}

// Disconnect removes the socket from its namespace: the client receives a
// DISCONNECT packet and the Disconnected hook the reason "server namespace
// disconnect". The protocol's DISCONNECT carries no text, so reason is
// only logged; emit an event first when the client must learn it.
func (s *Socket) Disconnect(reason string) {
	if s.has(flagClosed) {
		return
	}
	s.client.log().Debug("socket.io server disconnect", "nsp", s.ns.name, "socket", s.id, "reason", reason)
	s.close("server namespace disconnect", true)
}

func (s *Socket) send(msgs []engineio.Message) error {
	if s.has(flagClosed) {
		return ErrDisconnected
	}
	err := s.client.conn.Send(msgs...)
	if errors.Is(err, engineio.ErrQueueFull) && s.client.server.observer != nil {
		s.client.server.observer.QueueDropped(s.client.conn.Transport())
	}
	return err
}

// onPacket handles a packet addressed to this socket's namespace. An error
// means the packet is malformed.
func (s *Socket) onPacket(p *Packet) error {
	switch p.Type {
	case PacketEvent, PacketBinaryEvent:
		name, args, err := p.Event()
		if err != nil {
			return err
		}
		var ack AckFunc
		if p.ID >= 0 {
			ack = s.ackFunc(p.ID)
		}
		s.deliver(inboundEvent{name: name, args: args, ack: ack})
	case PacketAck, PacketBinaryAck:
		args, err := p.AckArgs()
		if err != nil {
			return err
		}
		if p.ID >= 0 {
			s.onAck(p.ID, args)
		}
	case PacketDisconnect:
		s.close("client namespace disconnect", false)
	}
	return nil
}

// ackFunc answers the client's event id once; later calls do nothing.
func (s *Socket) ackFunc(id int64) AckFunc {
	var sent atomic.Bool
	return func(args ...any) {
		if !sent.CompareAndSwap(false, true) {
			return
		}
		msgs, err := EncodeAck(s.ns.name, id, args...)
		if err != nil {
			s.client.log().Error("socket.io ack not encoded", "nsp", s.ns.name, "err", err)
			return
		}
		if err := s.send(msgs); err != nil {
			s.client.log().Debug("socket.io ack not sent", "nsp", s.ns.name, "err", err)
		}
	}
}

func (s *Socket) deliver(ev inboundEvent) {
	s.mu.Lock()
	if s.ready {
		s.mu.Unlock()
		s.dispatch(ev)
		return
	}
	err := s.holdEarlyLocked(ev)
	s.mu.Unlock()
	if err != nil {
		s.refuse(ev, err)
	}
}

// holdEarlyLocked keeps an event that arrived before the socket was set
// up, within MaxQueuedEvents and Limits.MaxQueuedBytes; mu is held. The
// first event held is always taken, whatever its size, so that any packet
// the transport accepted can wait.
func (s *Socket) holdEarlyLocked(ev inboundEvent) error {
	early := &s.extras().early
	size := EventBytes(ev.name, ev.args)
	if len(early.events) >= MaxQueuedEvents {
		return ErrQueuedEvents
	}
	limit := s.client.server.limits.Load().MaxQueuedBytes
	if limit > 0 && len(early.events) > 0 && early.bytes+size > limit {
		return ErrQueuedBytes
	}
	early.events = append(early.events, ev)
	early.bytes += size
	return nil
}

// refuse answers an event the socket could not hold with the refusal err,
// through the hooks when they implement Refuser.
func (s *Socket) refuse(ev inboundEvent, err error) {
	limit, _ := gatehouse.AsError(err).Data["limit"].(string)
	s.client.server.refused(limit)
	if r, ok := s.client.server.hooks.(Refuser); ok {
		r.Refuse(s, ev.name, ev.ack, err)
		return
	}
	s.client.log().Warn("socket.io event refused", "nsp", s.ns.name, "event", ClipName(ev.name), "err", err)
	if ev.ack != nil {
		ev.ack(map[string]any{"error": gatehouse.AsError(err).Fields()})
	}
}

// openGate hands over the events buffered during set-up, in order, then
// lets later ones through directly.
func (s *Socket) openGate() {
	for {
		s.mu.Lock()
		var batch []inboundEvent
		if x := s.more.Load(); x != nil {
			batch = x.early.events
			x.early = earlyEvents{}
		}
		if len(batch) == 0 {
			s.ready = true
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for i := range batch {
			ev := batch[i]
			batch[i] = inboundEvent{} // handed over: the batch no longer holds it
			s.dispatch(ev)
		}
	}
}

func (s *Socket) dispatch(ev inboundEvent) {
	if s.has(flagClosed) {
		return
	}
	s.client.server.hooks.Event(s.ctx(), s, ev.name, ev.args, ev.ack)
}

// close takes the socket out of its namespace once: optionally tells the
// client, leaves every room, fails pending acknowledgements (through the
// cancelled context) and reports reason to the Disconnected hook.
func (s *Socket) close(reason string, notifyClient bool) {
	if s.set(flagClosed) {
		return
	}
	if notifyClient {
		msgs, err := Encode(&Packet{Type: PacketDisconnect, Namespace: s.ns.name, ID: NoID})
		if err == nil {
			err = s.client.conn.Send(msgs...)
		}
		if err != nil {
			s.client.log().Debug("socket.io DISCONNECT not sent", "nsp", s.ns.name, "err", err)
		}
	}
	c := s.client
	c.mu.Lock()
	c.removeSocketLocked(s)
	c.mu.Unlock()
	rec := s.recovery()
	var rooms []string
	if rec != nil {
		rooms = s.ns.roomsOf(s)
	}
	s.ns.remove(s)
	s.saveSession(reason, rooms)
	if rec != nil {
		rec.mu.Lock()
		rec.hold = nil
		rec.mu.Unlock()
	}
	s.cancel()
	s.mu.Lock()
	if x := s.more.Load(); x != nil {
		x.early = earlyEvents{}
	}
	s.mu.Unlock()
	c.server.hooks.Disconnected(s, reason)
}
