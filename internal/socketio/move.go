package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// Moving a session's sockets to another node (see engineio.Release): the
// old node releases them, with no hook called, and keeps each as a ghost
// for a while, out of every room, so that an acknowledgement the client
// owes it still resolves and a handler that was running can still answer
// (through the session's forward); the new node adopts them, with the
// same ids, rooms, claims and recovery state, and no CONNECT.
//
// The broadcasts made on a node are numbered (LocalSeq) under a gate that
// the release and the adoption close for a moment: Release reports the
// last number whose broadcast reached the session before it left, Adopt
// the last one that did not reach it on the new node. The cluster layer
// compares the numbers the broadcasts carry with them, so that each
// reaches the moved sockets once.

// ErrNotMovable is returned by Release for a session that cannot move now:
// a CONNECT is being decided, a binary packet waits for its attachments,
// or a socket is still being set up.
var ErrNotMovable = errors.New("socketio: session cannot move now")

// MovedSocket is a socket on its way to another node, encoded as JSON
// between nodes.
type MovedSocket struct {
	ID        string           `json:"id"`
	Namespace string           `json:"nsp"`
	Rooms     []string         `json:"rooms,omitempty"`
	Claims    gatehouse.Claims `json:"claims,omitempty"`
	// PID and Start are its recovery state, in a namespace that recovers.
	PID   string `json:"pid,omitempty"`
	Start string `json:"start,omitempty"`
	// NextAck is the id of the next EmitWithAck; Acks are the ids the
	// client still owes the old node an acknowledgement for.
	NextAck int64   `json:"next_ack,omitempty"`
	Acks    []int64 `json:"acks,omitempty"`
}

// moveGate orders the broadcasts made on this node with the moves of
// sessions: broadcasts hold it shared while they are numbered and
// delivered here, a move holds it alone while sockets leave or arrive.
type moveGate struct {
	// on is Options.Moves: off, nothing is numbered or gated, which spares
	// every broadcast a shared lock and an atomic add on one word written
	// by all of them.
	on  bool
	mu  sync.RWMutex
	seq atomic.Uint64
}

type localSeqKey struct{}

// LocalSeq is the number this node gave the broadcast whose Remote call
// ctx is, 0 when none: what the cluster layer sends with it.
func LocalSeq(ctx context.Context) uint64 {
	seq, _ := ctx.Value(localSeqKey{}).(uint64)
	return seq
}

// broadcastHere delivers a broadcast to this node's sockets under the move
// gate and returns the number it got (0 when sessions do not move).
func (s *Server) broadcastHere(ctx context.Context, namespace string, rooms, except []string, event string, args []any) (uint64, error) {
	if !s.moving.on {
		return 0, s.BroadcastLocal(ctx, namespace, rooms, except, event, args...)
	}
	s.moving.mu.RLock()
	defer s.moving.mu.RUnlock()
	seq := s.moving.seq.Add(1)
	return seq, s.BroadcastLocal(ctx, namespace, rooms, except, event, args...)
}

// Gated runs deliver, a delivery to this node's sockets of a broadcast
// made here outside Broadcast (the server API's emits), under the move
// gate, and returns the number it got (0 when sessions do not move).
func (s *Server) Gated(deliver func() error) (uint64, error) {
	if !s.moving.on {
		return 0, deliver()
	}
	s.moving.mu.RLock()
	defer s.moving.mu.RUnlock()
	return s.moving.seq.Add(1), deliver()
}

// Released are the sockets of a session that left for another node, as
// the old node keeps them until End.
type Released struct {
	// Sockets are what the new node makes again.
	Sockets []MovedSocket
	// Cut is the number of the last broadcast made here that reached the
	// session before it left; later ones did not.
	Cut    uint64
	ghosts []*Socket
}

// Ghosts are the released sockets as this node keeps them: out of every
// room and of the index, their contexts alive until End.
func (r *Released) Ghosts() []*Socket { return r.ghosts }

// Ack hands an acknowledgement the client sent on the new node to the
// EmitWithAck waiting for it here; it reports whether the socket is one of
// these.
func (r *Released) Ack(socketID string, id int64, args []json.RawMessage) bool {
	for _, s := range r.ghosts {
		if s.id == socketID {
			s.onAck(id, args)
			return true
		}
	}
	return false
}

// Waiting reports whether an EmitWithAck of a released socket still waits.
func (r *Released) Waiting() bool {
	for _, s := range r.ghosts {
		s.mu.Lock()
		n := 0
		if x := s.more.Load(); x != nil {
			n = len(x.acks.waiting)
		}
		s.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// End ends the released sockets here: their contexts are cancelled (an
// EmitWithAck still waiting fails with ErrDisconnected), nothing is sent
// through them any more, and their OnEnd functions run: what they counted
// here is given back only now (see Release). No hook is called: they live
// on elsewhere.
func (r *Released) End() {
	for _, s := range r.ghosts {
		s.set(flagClosed)
		s.cancel()
	}
}

// Abort ends the released sockets as disconnected, hooks called, when the
// session could not leave after all (it closed meanwhile).
func (r *Released) Abort(reason string) {
	for _, s := range r.ghosts {
		s.close(reason, false)
	}
}

// Release takes the sockets of l, the listener of a session leaving for
// another node, out of this server: out of their rooms and the index, with
// no hook called. Their OnEnd functions run at End (or Abort), not here:
// what they counted here, a place under a connection cap, stays counted
// until the new node has counted them, so that no other socket takes it
// while they move. l must not be receiving a message (engineio.Release
// holds its delivery).
func (s *Server) Release(l engineio.Listener) (*Released, error) {
	c, ok := l.(*client)
	if !ok || c.server != s {
		return nil, errors.New("socketio: not a session of this server")
	}
	sockets, err := c.detach()
	if err != nil {
		return nil, err
	}
	r := &Released{Sockets: make([]MovedSocket, 0, len(sockets)), ghosts: sockets}
	s.moving.mu.Lock()
	r.Cut = s.moving.seq.Load()
	for _, sock := range sockets {
		r.Sockets = append(r.Sockets, sock.moved())
		sock.ns.remove(sock)
	}
	s.moving.mu.Unlock()
	return r, nil
}

// detach marks the client as gone from this node, its timers stopped, and
// returns its sockets; it fails when the session is in a state that does
// not move.
func (c *client) detach() ([]*Socket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.pending) > 0 || c.decoder.Waiting() {
		return nil, ErrNotMovable
	}
	for _, s := range c.sockets {
		if !s.isReady() {
			return nil, ErrNotMovable
		}
	}
	// A closed client ignores what might still reach it here.
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	c.stopBinaryTimerLocked()
	return slices.Clone(c.sockets), nil
}

// isReady reports whether the socket is set up: its Connected hook done.
func (s *Socket) isReady() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// moved is what s carries to another node.
func (s *Socket) moved() MovedSocket {
	m := MovedSocket{
		ID: s.id, Namespace: s.ns.name, Rooms: s.ns.roomsOf(s), Claims: s.Claims(),
	}
	if rec := s.recovery(); rec != nil {
		m.PID, m.Start = rec.pid, rec.start
	}
	s.mu.Lock()
	if x := s.more.Load(); x != nil {
		m.NextAck = x.acks.nextID
		for id := range x.acks.waiting {
			m.Acks = append(m.Acks, id)
		}
	}
	s.mu.Unlock()
	return m
}

// AckForward sends an acknowledgement the client sent here to the node
// that asked for it before the session moved.
type AckForward func(s *Socket, id int64, args []json.RawMessage)

// Adopt makes here again the sockets of conn, a session that moved from
// another node: same ids, rooms, claims and recovery state, set up
// already, with no hook called. during runs with the sockets in place,
// under the move gate, with the number of the last broadcast made here
// that did not reach them: for the cluster layer to deliver what reached
// neither node. Acknowledgements the client owes the old node go to
// forward.
func (s *Server) Adopt(conn engineio.Conn, moved []MovedSocket, forward AckForward, during func(sockets []*Socket, cut uint64)) (engineio.Listener, []*Socket, error) {
	for _, m := range moved {
		if !s.hooks.HasNamespace(m.Namespace) {
			return nil, nil, fmt.Errorf("socketio: namespace %s is not served here", m.Namespace)
		}
	}
	limits := s.limits.Load()
	c := &client{server: s, conn: conn}
	c.decoder.MaxBytes = limits.MaxPacketBytes
	sockets := make([]*Socket, 0, len(moved))
	for _, m := range moved {
		sockets = append(sockets, c.adoptSocket(m, forward))
	}
	c.sockets = sockets
	s.moving.mu.Lock()
	defer s.moving.mu.Unlock()
	for i, sock := range sockets {
		if !sock.ns.add(sock) {
			continue
		}
		for _, room := range moved[i].Rooms {
			if err := sock.ns.join(sock, room); err != nil {
				c.log().Debug("socket.io move: room not joined again", "nsp", sock.ns.name, "room", room, "err", err)
			}
		}
	}
	during(sockets, s.moving.seq.Load())
	return c, sockets, nil
}

// adoptSocket makes one moved socket, set up already.
func (c *client) adoptSocket(m MovedSocket, forward AckForward) *Socket {
	sock := newSocket(c, c.server.namespace(m.Namespace, true))
	sock.id = m.ID
	if m.PID != "" {
		sock.extras().rec = &recoveryState{pid: m.PID, start: m.Start}
	}
	if m.Claims != nil {
		sock.claims.Store(&socketClaims{decoded: m.Claims})
	}
	if m.NextAck != 0 {
		sock.extras().acks.nextID = m.NextAck
	}
	sock.ready = true
	if len(m.Acks) > 0 && forward != nil {
		owed := make(map[int64]struct{}, len(m.Acks))
		for _, id := range m.Acks {
			owed[id] = struct{}{}
		}
		var mu sync.Mutex
		sock.extras().acks.elsewhere = func(id int64, args []json.RawMessage) {
			mu.Lock()
			_, ok := owed[id]
			delete(owed, id)
			mu.Unlock()
			if ok {
				forward(sock, id, args)
			}
		}
	}
	return sock
}

// DeliverTo delivers a broadcast of namespace to those of sockets that are
// among its recipients (see adapter.Message): in any of rooms (all when
// empty) or of user when set, and not in except. A recorded broadcast
// (offset set) carries its offset and is held by a socket catching up.
func (s *Server) DeliverTo(sockets []*Socket, namespace string, rooms []string, user string, except []string, offset string, event string, args gatehouse.Args) error {
	var msgs []engineio.Message
	for _, sock := range sockets {
		if sock.ns.name != namespace || !sock.receives(rooms, user, except) {
			continue
		}
		if msgs == nil {
			var err error
			if offset != "" {
				msgs, err = EncodeEvent(namespace, NoID, event, args, offset)
			} else {
				msgs, err = EncodeEvent(namespace, NoID, event, args)
			}
			if err != nil {
				return err
			}
		}
		var err error
		if offset != "" {
			err = sock.sendRecorded(offset, msgs)
		} else {
			err = sock.send(msgs)
		}
		if err != nil {
			sock.client.log().Debug("socket.io moved socket: broadcast not queued", "nsp", namespace, "err", err)
		}
	}
	return nil
}

// receives reports whether the socket is a recipient of a broadcast to
// rooms (all when empty) or to user, minus except.
func (s *Socket) receives(rooms []string, user string, except []string) bool {
	if slices.Contains(except, s.id) {
		return false
	}
	if user != "" {
		return s.Subject() == user
	}
	if len(rooms) == 0 {
		return true
	}
	for _, room := range rooms {
		if room == s.id || s.InRoom(room) {
			return true
		}
	}
	return false
}

// SocketIDs lists the ids of sockets.
func SocketIDs(sockets []*Socket) []string {
	ids := make([]string, len(sockets))
	for i, s := range sockets {
		ids[i] = s.id
	}
	return ids
}
