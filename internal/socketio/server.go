package socketio

import (
	"context"
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

// Defaults for the zero values of Options.
const (
	DefaultAckTimeout     = 10 * time.Second
	DefaultConnectTimeout = 45 * time.Second
)

// RemoteBroadcast forwards a broadcast to the other nodes of a cluster.
type RemoteBroadcast func(ctx context.Context, namespace string, rooms []string, except []string, event string, args []any) error

// Options configure a Server.
type Options struct {
	// Hooks decide connections and handle events; required.
	Hooks Hooks
	// AckTimeout bounds how long EmitWithAck waits for the client's
	// acknowledgement (DefaultAckTimeout when zero).
	AckTimeout time.Duration
	// ConnectTimeout closes an Engine.IO session that has connected to no
	// namespace in time (DefaultConnectTimeout when zero), as the reference
	// server's connectTimeout does.
	ConnectTimeout time.Duration
	// Remote, when set, receives every Broadcast too, so the cluster
	// adapter can deliver it on the other nodes. Nil in one-process mode.
	Remote RemoteBroadcast
	// Logger receives protocol diagnostics (slog.Default when nil).
	Logger *slog.Logger
	// Observer, when set, is told about outbound traffic, for metrics.
	Observer Observer
	// Limits bound namespaces per session and rooms per socket (none when
	// zero); SetLimits changes them while serving.
	Limits Limits
	// Refused, when set, is told the name of a limit (LimitNamespaces,
	// LimitRooms, LimitConnect) each time it refuses something. It must be
	// quick.
	Refused func(limit string)
	// RoomChanged, when set, is told that a room of a namespace got its
	// first member on this server (occupied) or lost its last. It is
	// called with the namespace's lock held, so that the calls for one
	// room come in the order of the changes; it must be quick and must
	// not call back into the Server. A socket's own id is not a room here.
	RoomChanged func(namespace, room string, occupied bool)
	// UserRoomChanged, when set, is told that a user's first socket on
	// this server joined a room (joined) or its last left it, for
	// presence. It is called as RoomChanged is, with the namespace's lock
	// held: it must be quick and must not call back into the Server.
	UserRoomChanged func(namespace, room string, s *Socket, joined bool)
	// ClusterPresence, when set, gives the presence expressions the
	// cluster's figures where it knows them (see Socket.PresenceCount).
	ClusterPresence ClusterPresence
	// Recovery, when set, recovers the sessions of the namespaces whose
	// Window is not zero (see Recovery).
	Recovery Recovery
	// Plan, when set, says what a Broadcast in a namespace does besides
	// reaching its sockets (record it for recovery, keep it in the rooms'
	// history); it is asked once per broadcast, so it should answer from
	// what was decided when the configuration was built. Nil answers: only
	// the sockets.
	Plan func(namespace string) *BroadcastPlan
	// Moves is set when sessions may move between nodes (Release, Adopt):
	// only then are broadcasts numbered, under a gate that the moves close
	// for a moment. Without it a broadcast takes no lock for them and
	// LocalSeq is always 0.
	Moves bool
}

// Observer is told about outbound traffic. Its methods are called on the
// sending path, so they must be quick and safe for concurrent use.
type Observer interface {
	// Broadcast is one broadcast in namespace (from this node or another)
	// queued to recipients local sockets.
	Broadcast(namespace string, recipients int)
	// QueueDropped is a session over transport closed as a slow consumer
	// because its outbound queue was full.
	QueueDropped(transport string)
}

// Server is the Socket.IO layer: it is the engineio.Handler of an Engine.IO
// server and keeps the index of every namespace's sockets and rooms.
type Server struct {
	hooks          Hooks
	ackTimeout     time.Duration
	connectTimeout time.Duration
	remote         RemoteBroadcast
	observer       Observer
	log            *slog.Logger
	limits         atomic.Pointer[Limits]
	onRefused      func(limit string)
	onRoomChanged  func(namespace, room string, occupied bool)
	onUserRoom     func(namespace, room string, s *Socket, joined bool)
	presence       ClusterPresence
	recovery       Recovery
	plan           func(namespace string) *BroadcastPlan

	// epoch is when the server was made: clients keep their deadlines as
	// the time since, in 8 bytes rather than a time.Time's 24.
	epoch time.Time

	mu         sync.RWMutex
	namespaces map[string]*namespaceIndex

	// moving numbers the broadcasts made here and orders them with the
	// sessions that move between nodes (see move.go).
	moving moveGate
}

// NewServer returns a Server. It panics when opts.Hooks is nil, a wiring
// mistake that no configuration can cause.
func NewServer(opts Options) *Server {
	if opts.Hooks == nil {
		panic("socketio: NewServer needs Hooks")
	}
	s := &Server{
		hooks:          opts.Hooks,
		ackTimeout:     opts.AckTimeout,
		connectTimeout: opts.ConnectTimeout,
		remote:         opts.Remote,
		observer:       opts.Observer,
		onRefused:      opts.Refused,
		onRoomChanged:  opts.RoomChanged,
		onUserRoom:     opts.UserRoomChanged,
		presence:       opts.ClusterPresence,
		recovery:       opts.Recovery,
		plan:           opts.Plan,
		log:            opts.Logger,
		epoch:          time.Now(),
		namespaces:     make(map[string]*namespaceIndex),
		moving:         moveGate{on: opts.Moves},
	}
	if s.ackTimeout <= 0 {
		s.ackTimeout = DefaultAckTimeout
	}
	if s.connectTimeout <= 0 {
		s.connectTimeout = DefaultConnectTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.SetLimits(opts.Limits)
	return s
}

// namespace returns the index of name, creating it when create is set.
// Indexes live as long as the Server: namespaces are declared, so they are
// few.
func (s *Server) namespace(name string, create bool) *namespaceIndex {
	s.mu.RLock()
	n := s.namespaces[name]
	s.mu.RUnlock()
	if n != nil || !create {
		return n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n = s.namespaces[name]; n == nil {
		n = newNamespaceIndex(name)
		s.namespaces[name] = n
	}
	return n
}

// roomChanged tells RoomChanged, when set, of a room's change.
func (s *Server) roomChanged(namespace, room string, occupied bool) {
	if s.onRoomChanged != nil {
		s.onRoomChanged(namespace, room, occupied)
	}
}

func (s *Server) allNamespaces() []*namespaceIndex {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*namespaceIndex, 0, len(s.namespaces))
	for _, n := range s.namespaces {
		out = append(out, n)
	}
	return out
}

// Open starts the Socket.IO client of one Engine.IO session.
func (s *Server) Open(conn engineio.Conn) engineio.Listener {
	limits := s.limits.Load()
	c := &client{server: s, conn: conn}
	c.sockets = c.firstSocket[:0]
	c.decoder.MaxBytes = limits.MaxPacketBytes
	c.mu.Lock()
	c.connectTimer = time.AfterFunc(limits.ConnectTimeout, c.onConnectTimeout)
	c.mu.Unlock()
	return c
}

// RoomSizes counts the local members of every room of namespace that has
// any, for the operator's view; the rooms named after socket ids are not
// listed.
func (s *Server) RoomSizes(namespace string) map[string]int {
	n := s.namespace(namespace, false)
	if n == nil {
		return nil
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	sizes := make(map[string]int, len(n.rooms))
	for room, members := range n.rooms {
		if len(members) > 0 {
			sizes[room] = len(members)
		}
	}
	return sizes
}

// RoomSize is the number of local sockets in room of namespace.
func (s *Server) RoomSize(namespace, room string) int {
	n := s.namespace(namespace, false)
	if n == nil {
		return 0
	}
	return n.roomSize(room)
}

// Sockets lists the local sockets connected to namespace.
func (s *Server) Sockets(namespace string) []*Socket {
	n := s.namespace(namespace, false)
	if n == nil {
		return nil
	}
	return n.all()
}

// SocketsOfUser lists the local sockets whose claims have subject sub, in
// namespace or, when namespace is "", in every namespace.
func (s *Server) SocketsOfUser(namespace, sub string) []*Socket {
	if sub == "" {
		return nil
	}
	if namespace != "" {
		n := s.namespace(namespace, false)
		if n == nil {
			return nil
		}
		return n.ofUser(sub, nil)
	}
	var out []*Socket
	for _, n := range s.allNamespaces() {
		out = n.ofUser(sub, out)
	}
	return out
}

// Socket finds a local socket by namespace and id, nil when absent.
func (s *Server) Socket(namespace, id string) *Socket {
	n := s.namespace(namespace, false)
	if n == nil {
		return nil
	}
	return n.socket(id)
}

// client is the Socket.IO side of one Engine.IO session: it decodes the
// session's messages and multiplexes them over the namespaces it joined.
type client struct {
	server  *Server
	conn    engineio.Conn
	decoder Decoder // used by OnMessage only, which is never concurrent

	mu     sync.Mutex
	closed bool
	// binaryWaiting mirrors decoder.Waiting as last seen; read and written
	// by OnMessage only, so that a message changing nothing takes no lock.
	binaryWaiting bool
	// sockets are the accepted ones, one per namespace: a slice, as a
	// client joins one or a few namespaces (server.limits bounds them) and
	// a map of one entry would cost an idle client ten times its size.
	// Its first element is firstSocket, in the client itself, rather than
	// an array of its own. pending is made on first use and dropped when
	// empty.
	sockets      []*Socket
	firstSocket  [1]*Socket
	pending      map[string]*Socket // CONNECT being decided, by namespace
	connectTimer *time.Timer

	// binary is the deadline of a packet waiting for its attachments,
	// made at the session's first binary packet: a session that sends
	// none (most) keeps 8 bytes for it, and the client 128.
	binary *binaryWatch
}

// binaryWatch is the deadline of a client's packet that waits for its
// attachments; guarded by the client's mu. The timer is re-armed only when
// it fires early.
type binaryWatch struct {
	// timeout is Limits.BinaryPacketTimeout when the packet began waiting.
	timeout time.Duration
	// deadline is the time since server.epoch when the packet must be
	// finished; zero while none waits.
	deadline time.Duration
	timer    *time.Timer
}

// stopBinaryTimerLocked stops the binary packet's timer, if any; c.mu is held.
func (c *client) stopBinaryTimerLocked() {
	if c.binary != nil && c.binary.timer != nil {
		c.binary.timer.Stop()
	}
}

// socketLocked returns the accepted socket of namespace name, or nil; c.mu
// is held.
func (c *client) socketLocked(name string) *Socket {
	for _, s := range c.sockets {
		if s.ns.name == name {
			return s
		}
	}
	return nil
}

// removeSocketLocked forgets the accepted socket s; c.mu is held.
func (c *client) removeSocketLocked(s *Socket) {
	for i, other := range c.sockets {
		if other == s {
			last := len(c.sockets) - 1
			c.sockets[i] = c.sockets[last]
			c.sockets[last] = nil
			c.sockets = c.sockets[:last]
			return
		}
	}
}

// log is the server's logger with the session id: made when something is
// logged rather than kept by every idle client.
func (c *client) log() *slog.Logger { return c.server.log.With("sid", c.conn.ID()) }

// OnMessage decodes one message and routes the packet it completes.
func (c *client) OnMessage(msg engineio.Message) {
	p, err := c.decoder.Add(msg)
	c.watchBinaryPacket()
	if errors.Is(err, ErrPacketTooLarge) {
		c.server.refused(LimitPacketBytes)
		c.log().Info("socket.io session closed: packet over max_payload", "err", err)
		c.conn.Close("packet too large")
		return
	}
	if err != nil {
		c.log().Debug("socket.io parse error", "err", err)
		c.conn.Close("parse error")
		return
	}
	if p == nil {
		return
	}
	switch p.Type {
	case PacketConnect:
		c.onConnect(p)
	case PacketConnectError:
		c.log().Debug("socket.io invalid state", "type", p.Type)
		c.conn.Close("parse error")
	default:
		c.mu.Lock()
		s := c.socketLocked(p.Namespace)
		c.mu.Unlock()
		if s == nil {
			// Like the reference server, a namespace that is not (yet)
			// connected receives nothing; unlike it, the session stays
			// open, because a packet may cross a server-side disconnect.
			c.log().Debug("socket.io packet for a namespace not connected", "nsp", p.Namespace, "type", p.Type)
			return
		}
		if err := s.onPacket(p); err != nil {
			c.log().Debug("socket.io parse error", "nsp", p.Namespace, "err", err)
			c.conn.Close("parse error")
		}
	}
}

// OnClose disconnects every socket of the session with the transport's
// reason and abandons CONNECTs still being decided.
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	c.stopBinaryTimerLocked()
	sockets := c.sockets
	deciding := make([]*Socket, 0, len(c.pending))
	for _, s := range c.pending {
		deciding = append(deciding, s)
	}
	c.sockets = nil
	c.pending = nil
	c.mu.Unlock()
	for _, s := range deciding {
		s.cancel()
	}
	for _, s := range sockets {
		s.close(reason, false)
	}
}

// watchBinaryPacket starts the deadline of a packet that began waiting
// for its attachments and clears it once the packet is done (complete or
// dropped). It runs on the read path after each message.
func (c *client) watchBinaryPacket() {
	waiting := c.decoder.Waiting()
	if waiting == c.binaryWaiting {
		return // the same packet still waits, or none does
	}
	c.binaryWaiting = waiting
	c.mu.Lock()
	defer c.mu.Unlock()
	if !waiting {
		if c.binary != nil {
			c.binary.deadline = 0
		}
		return
	}
	timeout := c.server.limits.Load().BinaryPacketTimeout
	if timeout <= 0 {
		return
	}
	if c.binary == nil {
		c.binary = &binaryWatch{}
	}
	b := c.binary
	b.timeout = timeout
	b.deadline = time.Since(c.server.epoch) + timeout
	switch {
	case b.timer == nil:
		b.timer = time.AfterFunc(timeout, c.onBinaryTimeout)
	case !c.closed:
		// The timer may still be set for an earlier packet's deadline,
		// which is sooner; Reset moves it to this one's.
		b.timer.Reset(timeout)
	}
}

// onBinaryTimeout closes the session when a packet still waits for its
// attachments at its deadline; the decoder's partial packet goes with the
// session.
func (c *client) onBinaryTimeout() {
	c.mu.Lock()
	b := c.binary // set before its timer was made
	deadline, timeout := b.deadline, b.timeout
	if c.closed || deadline == 0 {
		c.mu.Unlock()
		return
	}
	if left := deadline - time.Since(c.server.epoch); left > 0 {
		b.timer.Reset(left)
		c.mu.Unlock()
		return
	}
	b.deadline = 0
	c.mu.Unlock()
	c.server.refused(LimitBinaryTimeout)
	c.log().Info("socket.io session closed: binary packet unfinished", "timeout", timeout)
	c.conn.Close("binary packet timeout")
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := !c.closed && len(c.sockets) == 0
	c.mu.Unlock()
	if idle {
		c.server.refused(LimitConnect)
		c.log().Debug("socket.io connect timeout: no namespace joined")
		c.conn.Close("forced server close")
	}
}

func (c *client) onConnect(p *Packet) {
	name := p.Namespace
	c.mu.Lock()
	connected := c.socketLocked(name) != nil
	_, deciding := c.pending[name]
	closed := c.closed
	held := len(c.sockets) + len(c.pending)
	c.mu.Unlock()
	switch {
	case closed:
		return
	case connected:
		// The reference server treats a second CONNECT as an invalid state
		// and closes the session.
		c.log().Debug("socket.io CONNECT to a namespace already connected", "nsp", name)
		c.conn.Close("parse error")
		return
	case deciding:
		c.log().Debug("socket.io CONNECT repeated while being decided", "nsp", name)
		return
	}
	if !c.server.hooks.HasNamespace(name) {
		c.sendConnectError(name, map[string]any{"message": "Invalid namespace"})
		return
	}
	if limit := c.server.limits.Load().MaxNamespacesPerSession; limit > 0 && held >= limit {
		c.server.refused(LimitNamespaces)
		c.sendConnectError(name, connectErrorPayload(errTooManyNamespaces(limit)))
		return
	}
	s := newSocket(c, c.server.namespace(name, true))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.cancel()
		return
	}
	if c.pending == nil {
		c.pending = make(map[string]*Socket, 1)
	}
	c.pending[name] = s
	c.mu.Unlock()
	// The decision may wait on the network (JWKS, webhooks); running it
	// aside keeps the session's other namespaces flowing.
	go c.decideConnect(s, p.Data)
}

func (c *client) decideConnect(s *Socket, auth json.RawMessage) {
	err := c.callConnect(s, auth)
	var resumed *resumption
	if err == nil {
		resumed = c.prepareRecovery(s, auth)
	}
	c.mu.Lock()
	if c.pending[s.ns.name] == s {
		delete(c.pending, s.ns.name)
		if len(c.pending) == 0 {
			c.pending = nil
		}
	}
	if c.closed {
		c.mu.Unlock()
		s.cancel()
		return
	}
	if err != nil {
		c.mu.Unlock()
		s.cancel()
		c.sendConnectError(s.ns.name, connectErrorPayload(err))
		return
	}
	c.sockets = append(c.sockets, s)
	if c.connectTimer != nil {
		// Not kept by an idle client once a namespace is connected.
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()

	if !s.ns.add(s) {
		return
	}
	if resumed != nil {
		for _, room := range resumed.session.Rooms {
			if err := s.Join(room); err != nil {
				c.log().Debug("socket.io recovery: room not joined again", "nsp", s.ns.name, "room", room, "err", err)
			}
		}
	}
	// Hooks run on this goroutine from here on; a panic ends the socket,
	// not the process.
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("socket.io hook panicked", "nsp", s.ns.name, "panic", r)
			s.close("server namespace disconnect", true)
		}
	}()
	msgs, err := Encode(&Packet{Type: PacketConnect, Namespace: s.ns.name, ID: NoID, Data: connectPayload(s.id, s.pid())})
	if err == nil {
		err = c.conn.Send(msgs...)
	}
	if err != nil {
		c.log().Debug("socket.io CONNECT not sent", "nsp", s.ns.name, "err", err)
	} else if f, ok := c.conn.(engineio.Flusher); ok {
		// The ack leaves before the Connected hook runs, in a write of its
		// own, as the reference server sends it: a client that handles the
		// frames of one read in one go (ws 8.17 and later) would otherwise
		// get what on_connect emits in the same tick as the ack, before
		// its code listens for it.
		f.Flush()
	}
	if resumed != nil {
		if err := c.catchUp(s, resumed); err != nil {
			c.log().Warn("socket.io recovery failed; the client reconnects", "nsp", s.ns.name, "err", err)
			s.close("server namespace disconnect", true)
			return
		}
	}
	c.server.hooks.Connected(s.ctx(), s)
	s.openGate()
}

// callConnect runs the Connect hook; a panicking hook refuses the socket
// instead of ending the process, since it runs on its own goroutine.
func (c *client) callConnect(s *Socket, auth json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("socket.io Connect hook panicked", "nsp", s.ns.name, "panic", r)
			err = fmt.Errorf("connect hook panicked: %v", r)
		}
	}()
	return c.server.hooks.Connect(s.ctx(), s, auth)
}

func (c *client) sendConnectError(namespace string, payload map[string]any) {
	data, err := json.Marshal(payload)
	if err != nil {
		c.log().Error("socket.io CONNECT_ERROR payload", "nsp", namespace, "err", err)
		data = []byte(`{"message":"internal error","data":{"code":"internal"}}`)
	}
	msgs, err := Encode(&Packet{Type: PacketConnectError, Namespace: namespace, ID: NoID, Data: data})
	if err == nil {
		err = c.conn.Send(msgs...)
	}
	if err != nil {
		c.log().Debug("socket.io CONNECT_ERROR not sent", "nsp", namespace, "err", err)
	}
}

// connectErrorPayload builds the CONNECT_ERROR body of contract C2:
// {"message", "data": {"code", ...}}.
func connectErrorPayload(err error) map[string]any {
	coded := gatehouse.AsError(err)
	data := make(map[string]any, len(coded.Data)+1)
	for k, v := range coded.Data {
		data[k] = v
	}
	data["code"] = string(coded.Code)
	return map[string]any{"message": coded.Message, "data": data}
}

func sidPayload(id string) json.RawMessage {
	out := make([]byte, 0, len(id)+10)
	out = append(out, `{"sid":"`...)
	out = append(out, id...) // base64url: no characters to escape
	return append(out, `"}`...)
}
