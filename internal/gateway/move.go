package gateway

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Moving a session to the node that received its WebSocket upgrade (with
// cluster.any_node). The new node (the adopter) asks every node, through
// the adapter's requests, to let the session go (KindMoveTake); the node
// holding it (the holder) releases it on its receiving goroutine, where
// the cluster's messages are handled one at a time, and answers with the
// session. That request is the cut: with Redis every node receives the
// cluster's messages in one order, so the holder has delivered every
// message before the request to the session, and none after; the adopter
// finds its own request in that order (adapter.Echoer) and keeps the
// messages after it for the session until it is made here, then delivers
// them to it.
//
// Broadcasts made on the holder or the adopter are delivered to their own
// sockets first and reach Redis after, so their place in the order says
// nothing of whether they reached the session: they carry the number their
// node gave them (socketio.LocalSeq). The holder reports the last number
// whose broadcast reached the session before it left; the adopter the last
// one of its own that did not reach the session here. A broadcast of the
// holder's with a later number, or of the adopter's with an earlier one,
// is delivered to the moved sockets when it comes back from Redis; any
// other of theirs was delivered already.

// Bounds of a move (what a client's session can make a node hold).
const (
	// maxMoveQueueBytes bounds the queued bytes a session carries when it
	// moves; a session with more queued goes on polling where it is.
	maxMoveQueueBytes = 4 << 20
	// maxMoveBuffered and maxMoveBufferedBytes bound the broadcasts the
	// adopter keeps for a session between its request and the session's
	// arrival; past either the move fails and the client opens a new
	// session.
	maxMoveBuffered      = 4096
	maxMoveBufferedBytes = 4 << 20
	// moveEchoWindow is how long the adopter sorts the broadcasts that come
	// back from Redis after a session arrived: those sent before it
	// arrived take at most a publish's timeout to come back.
	moveEchoWindow = 3 * time.Second
	// moveGhostGrace is how long the holder keeps the sockets that left,
	// for the answers of the events being handled when they did; longer,
	// up to the ack timeout, while an emit waits for the client's ack.
	moveGhostGrace = 2 * time.Second
	// moveVersion numbers the form of movePayload.
	moveVersion = 1
)

// Names of the move's bounds in LimitRefusals and the logs.
const (
	limitMoveQueue  = "move_queue"
	limitMoveBuffer = "move_buffer"
)

// movePayload is the holder's answer to KindMoveTake.
type movePayload struct {
	V       int                    `json:"v"`
	Session engineio.MovedSession  `json:"session"`
	Sockets []socketio.MovedSocket `json:"sockets"`
	// Cut is the number of the holder's last broadcast that reached the
	// session there.
	Cut uint64 `json:"cut"`
}

// moves is the gateway's part of moving sessions, as adopter and holder.
type moves struct {
	gw *Gateway
	// active counts the incoming moves, so that the receiving goroutine
	// takes mu only while there are some.
	active atomic.Int32

	mu       sync.Mutex
	incoming map[string]*incomingMove // by move id
	released map[string]*releasedSession
}

func newMoves(gw *Gateway) *moves {
	return &moves{gw: gw, incoming: make(map[string]*incomingMove), released: make(map[string]*releasedSession)}
}

// adoptWebSocket is engineio's Options.AdoptWebSocket: the upgrade of
// another node's session moves it here.
func (m *moves) adoptWebSocket(c *fiber.Ctx, sid string) (bool, error) {
	return true, m.gw.engine.AdoptUpgrade(c, sid, m)
}

// Probe implements engineio.Mover.
func (m *moves) Probe(ctx context.Context, sid string) error {
	answers, err := m.gw.cluster.adapter.Request(ctx, &adapter.Message{Kind: adapter.KindMoveProbe, Socket: sid})
	for _, a := range answers {
		if a.Count == 1 {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("probe session %s: %w", sid, err)
	}
	return errors.New("no node holds the session or lets it upgrade")
}

// Take implements engineio.Mover.
func (m *moves) Take(ctx context.Context, sid string) (engineio.Adoption, error) {
	in := &incomingMove{m: m, id: newMoveID(), sid: sid}
	m.begin(in)
	answers, err := m.gw.cluster.adapter.Request(ctx, &adapter.Message{Kind: adapter.KindMoveTake, Socket: sid, Event: in.id})
	var found *adapter.Message
	result := metrics.MoveFailed
	for _, a := range answers {
		if len(a.Args) > 0 {
			found = a
		}
		if a.Event == limitMoveQueue {
			result = metrics.MoveRefused
		}
	}
	if found == nil {
		m.end(in)
		m.gw.metrics.SessionMoved(result)
		if err == nil {
			err = errors.New("no node let the session go")
		}
		return nil, fmt.Errorf("take session %s: %w", sid, err)
	}
	if err := json.Unmarshal(found.Args[0], &in.payload); err != nil || in.payload.V != moveVersion {
		m.end(in)
		m.gw.metrics.SessionMoved(metrics.MoveFailed)
		return nil, fmt.Errorf("take session %s: answer of version %d not understood: %v", sid, in.payload.V, err)
	}
	in.from = found.Node
	return in, nil
}

func newMoveID() string {
	var b [8]byte
	_, _ = cryptorand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// begin records an incoming move before its request is sent.
func (m *moves) begin(in *incomingMove) {
	m.mu.Lock()
	m.incoming[in.id] = in
	m.mu.Unlock()
	m.active.Add(1)
}

// end forgets an incoming move; later calls do nothing.
func (m *moves) end(in *incomingMove) {
	m.mu.Lock()
	_, ok := m.incoming[in.id]
	delete(m.incoming, in.id)
	in.buf, in.sockets, in.conn = nil, nil, nil
	m.mu.Unlock()
	if ok {
		m.active.Add(-1)
	}
}

// incomingMove is a session on its way here. From the moment its request
// comes back (marked) until its sockets are made here (adopted), the
// cluster's messages for it are kept in buf; after, until end, the
// broadcasts of the holder and of this node are sorted as the file's
// comment says.
type incomingMove struct {
	m       *moves
	id, sid string
	from    string // the holder's node id
	payload movePayload

	// Guarded by m.mu.
	marked, adopted bool
	overflow        bool
	buf             []*adapter.Message
	bufBytes        int
	sockets         []*socketio.Socket
	conn            engineio.Conn
	cut             uint64 // this node's last broadcast that missed the sockets
}

var _ engineio.Adoption = (*incomingMove)(nil)

// Session implements engineio.Adoption.
func (in *incomingMove) Session() *engineio.MovedSession { return &in.payload.Session }

// Abandon implements engineio.Adoption.
func (in *incomingMove) Abandon() {
	in.m.end(in)
	in.m.gw.metrics.SessionMoved(metrics.MoveFailed)
}

// Open implements engineio.Adoption: the sockets are made here, what was
// kept for them delivered, and the gateway's watches started.
func (in *incomingMove) Open(conn engineio.Conn) (engineio.Listener, error) {
	m := in.m
	var disconnects []*adapter.Message
	l, sockets, err := m.gw.sockets.Adopt(conn, in.payload.Sockets, m.forwardAck, func(sockets []*socketio.Socket, cut uint64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		in.sockets, in.conn, in.cut, in.adopted = sockets, conn, cut, true
		for _, msg := range in.buf {
			if msg.Kind == adapter.KindDisconnect {
				disconnects = append(disconnects, msg)
				continue
			}
			in.deliverLocked(msg)
		}
		in.buf, in.bufBytes = nil, 0
	})
	if err != nil {
		m.end(in)
		m.gw.metrics.SessionMoved(metrics.MoveFailed)
		return nil, err
	}
	m.mu.Lock()
	overflow := in.overflow
	m.mu.Unlock()
	m.adopted(sockets)
	// Until the broadcasts sent before the move have all come back; what
	// the holder forwards later finds the session by its sid.
	time.AfterFunc(moveEchoWindow, func() { m.end(in) })
	for _, msg := range disconnects {
		m.gw.cluster.disconnectLocal(msg.Namespace, msg.User, msg.Socket)
	}
	if overflow {
		m.end(in)
		m.gw.refusals.refused(limitMoveBuffer, "sid", in.sid)
		m.gw.metrics.SessionMoved(metrics.MoveRefused)
		return l, errors.New("too many broadcasts while the session moved")
	}
	m.gw.metrics.SessionMoved(metrics.MoveMoved)
	return l, nil
}

// adopted starts what the gateway keeps for sockets that moved here: no
// hook runs, the client connected long ago.
func (m *moves) adopted(sockets []*socketio.Socket) {
	st := m.gw.useState()
	defer st.users.release()
	for _, s := range sockets {
		m.gw.metrics.SocketConnected(s.Namespace())
		if ns, ok := st.namespaces[s.Namespace()]; ok {
			m.retakeConnSlots(st, ns, s)
		}
		st.watchExpiry(s)
		m.gw.watchAuthorization(s)
	}
}

// retakeConnSlots counts a moved socket against its caps here, whatever
// they hold: it was admitted already. The holder counts it too until its
// ghost ends (socketio.Released.End) and gives its places back then, so a
// place under a cap moves with its socket, counted by both nodes for that
// moment and never by neither: a CONNECT of the same user in between would
// otherwise take it, leaving the user over the cap.
func (m *moves) retakeConnSlots(st *state, ns *namespaceRuntime, s *socketio.Socket) {
	// The claim is read from the claims' text, as at CONNECT: a moved
	// socket does not decode (and keep) a map it did not need before.
	caps := st.capsOf(ns, s.Claim)
	if len(caps) == 0 {
		return
	}
	unbounded := make([]adapter.Cap, len(caps))
	for i, c := range caps {
		unbounded[i] = adapter.Cap{Key: c.Key, Limit: math.MaxInt}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.gw.cluster.connCounter().Acquire(ctx, unbounded)
	m.gw.releaseOnEnd(s, caps)
}

// forwardAck sends an acknowledgement the client owed the holder to it.
func (m *moves) forwardAck(s *socketio.Socket, id int64, args []json.RawMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.gw.cluster.send(ctx, &adapter.Message{
		Kind: adapter.KindMoveAck, Namespace: s.Namespace(), Socket: s.ID(), Count: int(id), Args: args,
	})
}

// gets reports whether a broadcast that comes after the move's request
// has to reach the moved sockets from here.
func (in *incomingMove) gets(msg *adapter.Message, self string) bool {
	switch {
	case msg.Offset != "":
		return true // recorded: delivered in the stream's order only
	case msg.Node == in.from:
		return msg.Seq == 0 || msg.Seq > in.payload.Cut
	case msg.Node == self:
		return msg.Seq != 0 && msg.Seq <= in.cut
	}
	return true
}

// deliverLocked delivers a message kept for the moved sockets; m.mu is
// held.
func (in *incomingMove) deliverLocked(msg *adapter.Message) {
	switch msg.Kind {
	case adapter.KindMoveForward:
		if msgs, ok := forwardedMessages(msg); ok {
			_ = in.conn.Send(msgs...)
		}
	case adapter.KindBroadcast:
		if !in.gets(msg, in.m.gw.cluster.adapter.NodeID()) {
			return
		}
		args := gatehouse.Args{Raw: msg.Args, Attachments: msg.Attachments}
		if err := in.m.gw.sockets.DeliverTo(in.sockets, msg.Namespace, msg.Rooms, msg.User, msg.Except, msg.Offset, msg.Event, args); err != nil {
			in.m.gw.logger.Debug("broadcast not delivered to a moved socket", "event", msg.Event, "error", err)
		}
	}
}

// keepLocked keeps msg for a move whose sockets are not here yet; m.mu is
// held.
func (in *incomingMove) keepLocked(msg *adapter.Message) {
	if in.overflow {
		return
	}
	size := len(msg.Event)
	for _, a := range msg.Args {
		size += len(a)
	}
	for _, a := range msg.Attachments {
		size += len(a)
	}
	if len(in.buf) >= maxMoveBuffered || in.bufBytes+size > maxMoveBufferedBytes {
		in.overflow = true
		in.buf, in.bufBytes = nil, 0
		return
	}
	in.buf = append(in.buf, msg)
	in.bufBytes += size
}

// deliver is the receiving goroutine's delivery of another node's message
// while moves are under way: kept for the moves that wait for their
// sockets, then delivered here as usual, except to moved sockets that had
// it already. It reports false for the messages it leaves to Deliver.
func (m *moves) deliver(ctx context.Context, msg *adapter.Message) bool {
	if msg.Kind != adapter.KindBroadcast && msg.Kind != adapter.KindMoveForward && msg.Kind != adapter.KindDisconnect {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	forwarded := false
	for _, in := range m.incoming {
		switch {
		case !in.marked:
		case !in.adopted:
			if msg.Kind != adapter.KindMoveForward || msg.Socket == in.sid {
				in.keepLocked(msg)
				forwarded = true
			}
		case msg.Kind == adapter.KindMoveForward && msg.Socket == in.sid:
			in.deliverLocked(msg)
			forwarded = true
		case msg.Kind == adapter.KindBroadcast && msg.Offset == "" && msg.Node == in.from && msg.Seq != 0 && msg.Seq <= in.payload.Cut:
			// The holder delivered it to the sockets before they left.
			msg.Except = append(msg.Except[:len(msg.Except):len(msg.Except)], socketio.SocketIDs(in.sockets)...)
		}
	}
	switch msg.Kind {
	case adapter.KindMoveForward:
		return forwarded // else for a session whose move has ended
	case adapter.KindDisconnect:
		return false // its hooks may broadcast: not under mu
	}
	m.gw.cluster.deliverBroadcast(ctx, msg)
	return true
}

// echo sees this node's own messages in the cluster's order: a move's own
// request marks where its holder let the session go; a broadcast of ours
// made before the sockets were here reaches them now.
func (m *moves) echo(msg *adapter.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range m.incoming {
		switch {
		case msg.Kind == adapter.KindMoveTake && msg.Event == in.id:
			in.marked = true
		case msg.Kind != adapter.KindBroadcast || msg.Seq == 0 || !in.marked:
		case !in.adopted:
			in.keepLocked(msg)
		default:
			in.deliverLocked(msg)
		}
	}
}

// releasedSession is a session that left this node, as this node keeps it
// for a while: its sockets as ghosts, and where what is still sent to it
// goes.
type releasedSession struct {
	m        *moves
	sid, to  string
	released *socketio.Released
	deadline time.Time
}

// answerProbe answers KindMoveProbe: Count 1 from the holder.
func (m *moves) answerProbe(req *adapter.Message) *adapter.Message {
	if m.gw.engine.RemoteProbe(req.Socket) {
		return &adapter.Message{Count: 1}
	}
	return &adapter.Message{}
}

// answerTake answers KindMoveTake: the holder lets the session go and
// answers with it; any other node answers empty.
func (m *moves) answerTake(req *adapter.Message) *adapter.Message {
	rs := &releasedSession{m: m, sid: req.Socket, to: req.Node}
	moved, err := m.gw.engine.Release(req.Socket, maxMoveQueueBytes, func(l engineio.Listener) error {
		r, err := m.gw.sockets.Release(l)
		rs.released = r
		return err
	}, rs.forward)
	if err != nil {
		if rs.released != nil {
			rs.released.Abort("transport close")
		}
		if errors.Is(err, engineio.ErrMoveTooLarge) {
			m.gw.refusals.refused(limitMoveQueue, "sid", req.Socket)
			// The new node counts the move as refused.
			return &adapter.Message{Event: limitMoveQueue}
		}
		if !errors.Is(err, engineio.ErrUnknownSession) {
			m.gw.logger.Debug("session not moved", "sid", req.Socket, "to", req.Node, "error", err)
		}
		return &adapter.Message{}
	}
	for _, s := range rs.released.Ghosts() {
		m.gw.metrics.SocketDisconnected(s.Namespace())
		stopExpiry(m.gw.host.expiries, s)
		stopAuthorization(s)
	}
	raw, err := json.Marshal(movePayload{V: moveVersion, Session: *moved, Sockets: rs.released.Sockets, Cut: rs.released.Cut})
	if err != nil {
		m.gw.logger.Error("moving session not encoded", "sid", req.Socket, "error", err)
		rs.released.End()
		return &adapter.Message{}
	}
	rs.deadline = time.Now().Add(m.gw.cfg.Server.AckTimeout.D() + time.Second)
	m.mu.Lock()
	m.released[rs.sid] = rs
	m.mu.Unlock()
	time.AfterFunc(moveGhostGrace, rs.expire)
	return &adapter.Message{Args: []json.RawMessage{raw}}
}

// forward sends what is sent to the session here after it left to the
// node it moved to.
func (rs *releasedSession) forward(msgs []engineio.Message) error {
	data := make([][]byte, len(msgs))
	binary := make([]bool, len(msgs))
	for i, msg := range msgs {
		data[i], binary[i] = msg.Data, msg.Binary
	}
	flags, _ := json.Marshal(binary)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if dropped := rs.m.gw.cluster.send(ctx, &adapter.Message{
		Kind: adapter.KindMoveForward, Socket: rs.sid, Args: []json.RawMessage{flags}, Attachments: data,
	}); dropped != "" {
		return fmt.Errorf("forward to the session's new node: %s", dropped)
	}
	return nil
}

// expire ends the ghosts once no emit of theirs waits for an ack, or at
// the deadline.
func (rs *releasedSession) expire() {
	if rs.released.Waiting() && time.Now().Before(rs.deadline) {
		time.AfterFunc(100*time.Millisecond, rs.expire)
		return
	}
	rs.m.mu.Lock()
	if rs.m.released[rs.sid] == rs {
		delete(rs.m.released, rs.sid)
	}
	rs.m.mu.Unlock()
	rs.released.End()
}

// ack hands an acknowledgement forwarded by the session's new node to the
// emit waiting for it here.
func (m *moves) ack(msg *adapter.Message) {
	m.mu.Lock()
	sessions := make([]*releasedSession, 0, len(m.released))
	for _, rs := range m.released {
		sessions = append(sessions, rs)
	}
	m.mu.Unlock()
	for _, rs := range sessions {
		if rs.released.Ack(msg.Socket, int64(msg.Count), msg.Args) {
			return
		}
	}
}

// forwarded delivers what the old node of a session that moved here sent
// it after it left, once its move has ended.
func (m *moves) forwarded(msg *adapter.Message) {
	msgs, ok := forwardedMessages(msg)
	if !ok {
		return
	}
	if err := m.gw.engine.SendTo(msg.Socket, msgs...); err != nil {
		m.gw.logger.Debug("forwarded message for a moved session not sent", "sid", msg.Socket, "error", err)
	}
}

// forwardedMessages decodes the Engine.IO messages of a KindMoveForward.
func forwardedMessages(msg *adapter.Message) ([]engineio.Message, bool) {
	var binary []bool
	if len(msg.Args) != 1 || json.Unmarshal(msg.Args[0], &binary) != nil || len(binary) != len(msg.Attachments) {
		return nil, false
	}
	msgs := make([]engineio.Message, len(binary))
	for i := range msgs {
		msgs[i] = engineio.Message{Data: msg.Attachments[i], Binary: binary[i]}
	}
	return msgs, true
}

// pending counts the moves under way and the sessions that left and are
// still kept here, for tests and the drain.
func (m *moves) pending() (incoming, released int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.incoming), len(m.released)
}
