package engineio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

// Moving a session between nodes. In a cluster where any node serves any
// session, the WebSocket upgrade of a polling session may reach a node
// other than the one holding it. That node (the adopter) answers the
// client's probe itself, after telling the holder (Mover.Probe) so that
// the holder answers the pending GET with a noop, as on an upgrade of its
// own; on the client's upgrade packet it takes the session over
// (Mover.Take): the holder lets it go with Release, without closing it
// (the listener is told nothing: its state travels with the session), and
// the adopter makes it again under the same sid, carried by the WebSocket
// from then on. What is sent to the session on the old node afterwards (an
// acknowledgement of an event that was being handled) is handed to a
// forward function, which the layer above sends to the adopter.

// ErrUnknownSession is returned by Release for a sid this server does not
// hold.
var ErrUnknownSession = errors.New("engineio: session unknown")

// ErrNotMovable is returned by Release for a session that cannot move now:
// closing, upgraded, probed by a WebSocket of its own, or with more queued
// than the move may carry.
var ErrNotMovable = errors.New("engineio: session cannot move now")

// ErrMoveTooLarge is returned by Release for a session with more queued
// than the move may carry. The session is not released: the node that
// asked closes the client's WebSocket, the client opens a new session,
// and this one ends here with its ping timeout.
var ErrMoveTooLarge = errors.New("engineio: session has too much queued to move")

// MovedSession is an Engine.IO session on its way to another node: what
// the adopter needs to go on serving it. It is encoded as JSON between
// nodes.
type MovedSession struct {
	SID      string `json:"sid"`
	Header   string `json:"header,omitempty"`
	Query    string `json:"query,omitempty"`
	RemoteIP string `json:"ip,omitempty"`
	// Queue is what was queued for the client and not yet written, in
	// order; the adopter writes it first.
	Queue []MovedPacket `json:"queue,omitempty"`
	// AwaitingPong is set when the holder pinged and the pong is due.
	AwaitingPong bool `json:"awaiting_pong,omitempty"`
}

// MovedPacket is one queued packet of a MovedSession.
type MovedPacket struct {
	Type      int    `json:"t"`
	Data      []byte `json:"d,omitempty"`
	Binary    bool   `json:"b,omitempty"`
	Continued bool   `json:"c,omitempty"`
}

// Mover carries out the node-to-node part of a move for the adopter.
type Mover interface {
	// Probe tells the node holding sid that a WebSocket here answers the
	// client's probe, so that it answers the session's pending GET and
	// waits for the upgrade. An error fails the upgrade: the session goes
	// on polling where it is.
	Probe(ctx context.Context, sid string) error
	// Take has the node holding sid let it go and returns it, to be made
	// here. An error means the session is held by no node any more, or
	// never left its node; either way the client is closed and opens a
	// new session.
	Take(ctx context.Context, sid string) (Adoption, error)
}

// Adoption is a session taken from another node, to be made here.
type Adoption interface {
	// Session is the Engine.IO part of the session.
	Session() *MovedSession
	// Open returns the listener of conn, the session made here again,
	// before it is reachable: the layer above makes its own part of the
	// session again. On error the session is closed.
	Open(conn Conn) (Listener, error)
	// Abandon is called instead of Open when the session cannot be made
	// here (this server is full or shutting down).
	Abandon()
}

// RemoteProbe marks the polling session sid as probed by a WebSocket of
// another node that answered the probe: a pending GET is answered with a
// noop on the next upgrade tick, as on a local upgrade, and the session
// waits for Release until UpgradeTimeout, after which it goes on polling.
// It reports false when the session is not here or may not upgrade.
func (srv *Server) RemoteProbe(sid string) bool {
	s := srv.lookup(sid)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state() != stateOpen || s.phase != phasePolling || s.upgraded {
		return false
	}
	s.phase = phaseProbing
	s.startProbeLocked(srv.opts.UpgradeTimeout).answered = time.Now()
	if s.poll != nil {
		signal(s.poll)
	}
	return true
}

// Release lets the polling session sid go to another node. export is given
// the session's listener, with no message being delivered meanwhile, to
// hand over the layer above's state; then the queue is taken, a pending
// GET is answered with a noop, the sid is forgotten here and the session
// never closes here: its listener gets no OnClose. What is sent to the
// session afterwards goes to forward. maxBytes bounds the bytes queued that
// the move carries; over it the session cannot move (ErrNotMovable) and
// stays here.
func (srv *Server) Release(sid string, maxBytes int64, export func(Listener) error, forward func([]Message) error) (*MovedSession, error) {
	s := srv.lookup(sid)
	if s == nil {
		return nil, ErrUnknownSession
	}
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	s.mu.Lock()
	movable, small := s.movableLocked(maxBytes)
	s.mu.Unlock()
	switch {
	case !movable:
		return nil, ErrNotMovable
	case !small:
		return nil, ErrMoveTooLarge
	}
	if err := export(s.listener); err != nil {
		return nil, fmt.Errorf("engineio: session %s not released: %w", sid, err)
	}
	s.mu.Lock()
	if s.state() != stateOpen {
		// Closed meanwhile (its heartbeat ran out): the listener, told,
		// ends what export handed over.
		s.mu.Unlock()
		return nil, ErrClosed
	}
	moved := s.movedLocked()
	s.setStateLocked(stateClosing)
	s.mode = closeByPeer // a pending GET gets a noop
	srv.timers.Cancel(&s.timer)
	s.stopProbeLocked()
	s.transit = &transit{s: s, forward: forward}
	pending := s.poll != nil
	if pending {
		signal(s.poll)
	}
	registered := s.registered
	s.mu.Unlock()
	if registered {
		srv.openSessions.Add(-1)
		srv.unlink(s)
	}
	if !pending {
		s.finish()
	}
	srv.log.Debug("engineio session moved to another node", "sid", sid)
	return moved, nil
}

// movableLocked reports whether the session may move now (open, carried
// by polling, a probe from afar allowed but not one of its own) and
// whether it has at most maxBytes queued.
func (s *session) movableLocked(maxBytes int64) (movable, small bool) {
	if s.state() != stateOpen || s.phase == phaseWebSocket || s.probeConnLocked() != nil || s.upgraded {
		return false, true
	}
	var size int64
	for _, p := range s.queue {
		size += int64(len(p.data))
	}
	return true, size <= maxBytes
}

// movedLocked takes the session's queue into its MovedSession.
func (s *session) movedLocked() *MovedSession {
	moved := &MovedSession{
		SID:          s.id,
		Header:       string(s.handshake.Header),
		Query:        string(s.handshake.Query),
		RemoteIP:     s.handshake.RemoteIP,
		AwaitingPong: s.awaitingPong,
	}
	moved.Queue = make([]MovedPacket, 0, len(s.queue))
	for _, p := range s.queue {
		moved.Queue = append(moved.Queue, MovedPacket{Type: int(p.typ), Data: p.data, Binary: p.binary, Continued: p.continued})
	}
	clear(s.queue)
	s.queue = s.queue[:0]
	s.queuedMessages = 0
	return moved
}

// AdoptUpgrade answers the WebSocket upgrade c of sid, a session another
// node holds, and moves the session here through m once the client
// upgrades. A server that takes no more sessions refuses it as a new
// session (503). Meant for Options.AdoptWebSocket.
func (srv *Server) AdoptUpgrade(c *fiber.Ctx, sid string, m Mover) error {
	// Fiber's strings share the request's buffer, which the next request
	// on the connection reuses; the WebSocket outlives this one.
	sid = strings.Clone(sid)
	hs := newHandshake(c)
	if refusal := srv.admission(hs.RemoteIP); refusal != nil {
		return srv.refuseSession(c, refusal, hs.RemoteIP)
	}
	return srv.upgrade(c, func(conn *fws.Conn) { srv.adoptWebSocket(sid, hs, conn, m) })
}

// adoptWebSocket runs on the WebSocket of an upgrade from afar: the probe,
// the move, then the session as a WebSocket session of this server. Any
// failure closes the WebSocket: before the upgrade packet the client goes
// on polling where it was; after, it opens a new session.
func (srv *Server) adoptWebSocket(sid string, hs *Handshake, conn *fws.Conn, m Mover) {
	adoption := srv.probeFromAfar(sid, conn, m)
	if adoption == nil {
		refuseWebSocket(conn)
		return
	}
	moved := adoption.Session()
	s, err := srv.newSessionWithID(moved.SID, &Handshake{
		Header: Header(moved.Header), Query: Query(moved.Query), RemoteIP: moved.RemoteIP, Local: hs.Local,
	})
	if err != nil {
		srv.log.Debug("engineio session not moved here", "sid", sid, "err", err)
		adoption.Abandon()
		refuseWebSocket(conn)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	link := s.newLink(conn)
	s.mu.Lock()
	s.phase = phaseWebSocket
	s.upgraded = true
	s.ws = link
	s.restoreQueueLocked(moved.Queue)
	// Nothing is written before the session is registered, from this
	// goroutine (as openWebSocket does).
	link.reading = true
	s.mu.Unlock()

	defer s.stopWebSocket(link)
	if !s.adopt(adoption) {
		return
	}
	srv.register(s)
	if moved.AwaitingPong {
		s.mu.Lock()
		if s.state() == stateOpen {
			s.awaitingPong = true
			s.resetHeartbeatLocked(srv.opts.PingTimeout)
		}
		s.mu.Unlock()
	}
	srv.log.Debug("engineio session moved here", "sid", s.id)
	s.doneReading(link)
	s.readLoop(link)
}

// adopt makes the layer above's part of the session; it reports false,
// and closes the session, when that failed.
func (s *session) adopt(adoption Adoption) bool {
	s.deliverMu.Lock()
	l, err := adoption.Open(s)
	s.listener = l
	s.deliverMu.Unlock()
	if err != nil {
		s.srv.log.Debug("engineio session not moved here", "sid", s.id, "err", err)
		s.closeWith("transport error", closeAbort)
		return false
	}
	return true
}

// probeFromAfar answers the client's probe on conn once the holder of sid
// knows of it, and takes the session over on the upgrade packet, within
// UpgradeTimeout. It returns nil when the upgrade or the move failed.
func (srv *Server) probeFromAfar(sid string, conn *fws.Conn, m Mover) Adoption {
	deadline := srv.opts.Now().Add(srv.opts.UpgradeTimeout)
	_ = conn.SetReadDeadline(deadline)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil || typ != fws.TextMessage {
			return nil
		}
		p, err := decodePacket(data)
		if err != nil {
			return nil
		}
		switch {
		case p.typ == packetPing && string(p.data) == probe:
			if err := m.Probe(ctx, sid); err != nil {
				srv.log.Debug("engineio probe from afar refused", "sid", sid, "err", err)
				return nil
			}
			_ = conn.SetWriteDeadline(srv.opts.Now().Add(srv.writeTimeout()))
			if err := writeFrame(conn, packet{typ: packetPong, data: []byte(probe)}); err != nil {
				return nil
			}
		case p.typ == packetUpgrade:
			adoption, err := m.Take(ctx, sid)
			if err != nil {
				srv.log.Debug("engineio session not taken over", "sid", sid, "err", err)
				return nil
			}
			return adoption
		default:
			return nil
		}
	}
}

// newSessionWithID creates a session with the sid it had on another node,
// counted against this server's limits like a new one.
func (srv *Server) newSessionWithID(sid string, hs *Handshake) (*session, error) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if refusal := srv.admissionLocked(hs.RemoteIP); refusal != nil {
		return nil, refusal
	}
	if srv.sessions[sid] != nil {
		return nil, fmt.Errorf("engineio: session %s already here", sid)
	}
	srv.admitted++
	srv.admittedBy[hs.RemoteIP]++
	srv.alive.add()
	// Moved here by its WebSocket (Adopt).
	return srv.makeSession(sid, hs, true), nil
}

// restoreQueueLocked queues what the session had queued on its old node.
func (s *session) restoreQueueLocked(queue []MovedPacket) {
	for _, p := range queue {
		s.queue = append(s.queue, packet{typ: packetType(p.Type), data: p.Data, binary: p.Binary, continued: p.Continued})
		if packetType(p.Type) == packetMessage {
			s.queuedMessages++
		}
	}
}

// SendTo sends msgs to the session sid, as Conn.Send does; it returns
// ErrUnknownSession when the session is not here. It lets what the old
// node of a moved session still sends it reach it here.
func (srv *Server) SendTo(sid string, msgs ...Message) error {
	s := srv.lookup(sid)
	if s == nil {
		return ErrUnknownSession
	}
	return s.Send(msgs...)
}
