package engineio

import (
	"sync"
	"sync/atomic"
	"time"

	"net"

	fws "github.com/fasthttp/websocket"

	"github.com/gatehouse-dev/gatehouse/internal/deadline"
)

// sessionState is the life cycle of a session.
type sessionState int32

const (
	// stateOpen: messages flow both ways.
	stateOpen sessionState = iota
	// stateClosing: the listener has been told; the transport still has
	// to hand over the rest of the queue and the close packet.
	stateClosing
	// stateClosed: finished and forgotten by the server.
	stateClosed
)

// closeMode says what a closing session still writes to its client.
type closeMode uint8

const (
	// closeGraceful writes the queued messages, then the close packet.
	closeGraceful closeMode = iota
	// closeAbort drops the queue and writes only the close packet.
	closeAbort
	// closeByPeer writes nothing more: the client closed the session
	// (a pending GET gets a noop, as the reference server answers it).
	closeByPeer
	// closeDiscard is the close of a server shutting down: like
	// closeGraceful where a transport is attached (a pending GET or a
	// WebSocket), but a polling session whose client is between two GETs
	// finishes at once instead of waiting for the next one, as the
	// reference server's close discards such a transport.
	closeDiscard
)

// transportPhase says which transport carries a session. It changes only
// under the session's mu, and every request of the session asks, under
// that lock, whether it may be served in the current phase (see
// servesPollingLocked, startProbe, switchToWebSocket): that is what makes
// the switch from polling to WebSocket race-free, however the polling and
// WebSocket requests of one client interleave.
type transportPhase int8

const (
	// phasePolling: long-polling carries the session; a WebSocket may
	// start probing it.
	phasePolling transportPhase = iota
	// phaseProbing: polling still carries the session while one WebSocket
	// (probe) tests the upgrade; another WebSocket is closed.
	phaseProbing
	// phaseWebSocket: the WebSocket carries the session (from its
	// handshake, or since the client's upgrade packet); polling requests
	// are refused. A session that started on a WebSocket may still be
	// probed by another one (wsProbing), as on the reference server; an
	// upgraded one may not.
	phaseWebSocket
)

// session is one Engine.IO session; it implements Conn.
//
// Its fields are ordered to pack: an idle WebSocket session holds it, with
// its parts, in one object of the 576-byte size class. What only a probe
// or a move needs is in transit, made when one starts.
type session struct {
	srv       *Server
	id        string
	handshake Handshake
	// parts, allocated with a session that starts on a WebSocket (see
	// wsSession), are what its first WebSocket needs; nil otherwise.
	parts *wsParts

	// deliverMu serialises the listener's calls: Open, each OnMessage and
	// the final OnClose.
	deliverMu sync.Mutex
	listener  Listener

	// status mirrors the state for lock-free reads on the message path;
	// it only changes under mu.
	status atomic.Int32

	mu         sync.Mutex
	phase      transportPhase
	registered bool
	mode       closeMode
	// posting is set while a POST is being processed.
	posting bool
	// queue holds the packets not yet written; queuedMessages counts the
	// messages among them against Options.SendQueue (each is a packet in
	// queue, so the count never nears the bounds of an int32).
	queue          []packet
	queuedMessages int32
	// wsProbing is set while a WebSocket probes a session that a WebSocket
	// carries (the phase stays phaseWebSocket). upgraded is set once a
	// WebSocket took the session over from its first transport: the
	// reference server lets a session upgrade once.
	wsProbing    bool
	upgraded     bool
	awaitingPong bool
	draining     bool
	// poll wakes the pending long-poll GET; nil when there is none.
	poll chan struct{}
	// ws is the WebSocket once it carries the session; once set it is
	// never nil again.
	ws *wsLink
	// transit is the probe reservation while a WebSocket probes the
	// session (phaseProbing or wsProbing), or where the session went once
	// it moved to another node; nil otherwise.
	transit *transit
	// One timer, on the server's scheduler, drives the heartbeat of an
	// open session: it sends the ping after PingInterval, then closes the
	// session when no pong came within PingTimeout. Once a polling session
	// is closed it finishes the session whose client never came back for
	// the close packet (draining). due, on the scheduler's clock, is when
	// it is armed for; it detects a firing that a reset superseded.
	timer deadline.Timer
	due   time.Duration
}

// transit is what a session keeps only while it is between two transports
// or two nodes, out of the session itself, which every idle connection
// keeps: a probe reservation (its address is the reservation, see
// reserveProbe), or, once the session moved to another node (Release),
// where what is sent to it here goes.
type transit struct {
	// timer ends the reservation when no connection claims it in time.
	timer deadline.Timer
	s     *session
	// conn is the WebSocket that probes; nil until the reserved connection
	// is handed over, and for a probe from another node.
	conn *fws.Conn
	// answered is when the probe answered the probe ping, after which a
	// pending GET is answered on every tick of upgradePollInterval so that
	// the client can pause polling (the reference server's check timer).
	answered time.Time
	// forward, set when the session moved to another node, receives what
	// is sent to it here afterwards.
	forward func([]Message) error
}

// wsSession is a session that starts on a WebSocket, allocated with what
// its WebSocket needs for the session's whole life: one long-lived object
// per idle connection rather than four, which also leaves fewer holes in
// the heap's spans once the garbage of the connect is collected.
type wsSession struct {
	session
	parts wsParts
}

// wsParts are the link and the poller's record of a session's first
// WebSocket; a later WebSocket of the session (an upgrade, a takeover)
// gets its own.
type wsParts struct {
	link wsLink
	pc   pollConn
}

// makeSession is a session of srv, its timer ready, with the parts of a
// WebSocket when it starts on one; newSession and newSessionWithID count
// it against the server's limits.
func (srv *Server) makeSession(sid string, hs *Handshake, websocket bool) *session {
	var s *session
	if websocket {
		ws := &wsSession{}
		s = &ws.session
		s.parts = &ws.parts
	} else {
		s = &session{}
	}
	s.srv, s.id = srv, sid
	s.handshake = *hs
	s.timer.Init(sessionTimerFired, s)
	return s
}

// newLink returns the link of conn, a WebSocket of s: the one allocated
// with the session for its first WebSocket, a new one after. The first is
// the one asked for while ws is nil: a session made with its parts is not
// reachable by another request until the WebSocket that made it is its ws
// (openWebSocket, adoptWebSocket), and ws is never nil again. A connection
// fasthttp hijacked is written and closed through the connection under
// it when the server owns hijacked connections (its Close then closes
// that one too), so that the wrapper, which only adds the request's
// reader, is not kept with the link.
func (s *session) newLink(conn *fws.Conn) *wsLink {
	raw := conn.UnderlyingConn()
	if hj, ok := raw.(interface{ UnsafeConn() net.Conn }); ok && s.srv.ownsConns {
		if inner := hj.UnsafeConn(); inner != nil {
			raw = inner
		}
	}
	s.mu.Lock()
	var link *wsLink
	if s.parts != nil && s.ws == nil {
		link = &s.parts.link
	} else {
		link = new(wsLink)
	}
	s.mu.Unlock()
	link.conn = conn
	link.raw = raw
	return link
}

// newPollConn returns the poller's record of link, a WebSocket of s: the
// one allocated with the session for the link allocated with it, a new one
// for another link. A link is handed to the poller once.
func (s *session) newPollConn(link *wsLink) *pollConn {
	if s.parts != nil && link == &s.parts.link {
		return &s.parts.pc
	}
	return new(pollConn)
}

func (s *session) state() sessionState { return sessionState(s.status.Load()) }

func (s *session) setStateLocked(st sessionState) { s.status.Store(int32(st)) }

// ID implements Conn.
func (s *session) ID() string { return s.id }

// Handshake implements Conn.
func (s *session) Handshake() *Handshake { return &s.handshake }

// Transport implements Conn.
func (s *session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transportLocked()
}

func (s *session) transportLocked() string {
	if s.phase == phaseWebSocket {
		return TransportWebSocket
	}
	return TransportPolling
}

// Send implements Conn.
func (s *session) Send(msgs ...Message) error {
	s.mu.Lock()
	if s.state() != stateOpen {
		var forward func([]Message) error
		if s.transit != nil {
			forward = s.transit.forward
		}
		s.mu.Unlock()
		if forward != nil {
			return forward(msgs)
		}
		return ErrClosed
	}
	if limit := s.srv.opts.SendQueue; int(s.queuedMessages)+len(msgs) > limit {
		if s.srv.opts.SlowConsumer != SlowConsumerDropOldest || len(msgs) > limit {
			var out linkConn // read under mu: handOff may change it
			if link := s.ws; link != nil {
				out = link.raw
			}
			s.mu.Unlock()
			s.closeWith("slow consumer", closeAbort)
			if out != nil {
				// A write stuck on the client's full window fails now
				// rather than at its deadline.
				_ = out.SetWriteDeadline(time.Now())
			}
			return ErrQueueFull
		}
		s.dropOldestLocked(int(s.queuedMessages) + len(msgs) - limit)
	}
	for i, m := range msgs {
		s.queue = append(s.queue, packet{typ: packetMessage, data: m.Data, binary: m.Binary, continued: i > 0})
	}
	s.queuedMessages += int32(len(msgs))
	s.wakeLocked()
	s.mu.Unlock()
	return nil
}

// dropOldestLocked drops at least n of the oldest queued messages, whole
// groups at a time (a message with its attachments), and keeps control
// packets. It drops an eighth of the queue at least, so that a client that
// stays slow costs one pass over its queue per eighth, not per message.
func (s *session) dropOldestLocked(n int) {
	n = max(n, s.srv.opts.SendQueue/8)
	kept, dropped := s.queue[:0], 0
	dropping := false
	for _, p := range s.queue {
		if p.typ == packetMessage {
			if !p.continued {
				dropping = dropped < n
			}
			if dropping {
				dropped++
				continue
			}
		}
		kept = append(kept, p)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	s.queuedMessages -= int32(dropped)
}

// Close implements Conn.
func (s *session) Close(reason string) {
	s.closeWith(reason, closeGraceful)
}

// open hands the session to the handler. deliverMu is held so that a
// Close from inside Open delivers OnClose only after Open returned.
func (s *session) open(h Handler) {
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	s.listener = h.Open(s)
}

// deliver hands one message to the listener unless the session is closing.
func (s *session) deliver(msg Message) {
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	if s.state() != stateOpen || s.listener == nil {
		return
	}
	s.listener.OnMessage(msg)
}

// receive handles one packet from the client. It reports false when the
// packet ended the session, so that the rest of a payload is ignored.
func (s *session) receive(p packet) bool {
	switch p.typ {
	case packetMessage:
		s.deliver(Message{Data: p.data, Binary: p.binary})
	case packetPong:
		s.onPong()
	case packetClose:
		s.closeWith("transport close", closeByPeer)
		return false
	case packetPing:
		// In v4 the server pings; a client ping outside an upgrade probe
		// is a protocol error, as for the reference server.
		s.closeWith("transport error", closeAbort)
		return false
	}
	// Open, upgrade and noop packets carry nothing for an open session.
	return true
}

// enqueueControlLocked queues a protocol packet; those do not count
// against the send queue bound.
func (s *session) enqueueControlLocked(typ packetType) {
	s.queue = append(s.queue, packet{typ: typ})
}

// wakeLocked tells the current transport that packets are waiting.
func (s *session) wakeLocked() {
	switch {
	case s.phase != phaseWebSocket && s.poll != nil:
		signal(s.poll)
	case s.ws != nil:
		s.wakeWriterLocked(s.ws)
	}
}

// signal wakes the reader of a one-slot channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// resetHeartbeatLocked arms the session's timer to fire after d.
func (s *session) resetHeartbeatLocked(d time.Duration) {
	s.armTimerLocked(s.srv.timers.Now() + d)
}

// armTimerLocked arms the session's timer to fire at due, on the clock of
// the server's scheduler.
func (s *session) armTimerLocked(due time.Duration) {
	s.due = due
	s.srv.timers.At(&s.timer, due)
}

// sessionTimerFired is the callback of every session's timer.
func sessionTimerFired(arg any) { arg.(*session).onTimer() }

// onTimer runs when the session's timer fires: the heartbeat of an open
// session, the end of a drained one.
func (s *session) onTimer() {
	s.mu.Lock()
	if s.srv.timers.Now() < s.due {
		// The timer was re-armed after this firing started.
		s.mu.Unlock()
		return
	}
	draining := s.draining && s.state() == stateClosing
	s.mu.Unlock()
	if draining {
		s.finish()
		return
	}
	s.onHeartbeat()
}

// expireIfOverdue closes the session with "ping timeout" when its pong is
// overdue and reports whether it did. The heartbeat timer does the same,
// but it may run late on a busy machine; a request that arrives after the
// deadline must meet the session the deadline ended, as it would on the
// reference server.
func (s *session) expireIfOverdue() bool {
	s.mu.Lock()
	overdue := s.state() == stateOpen && s.awaitingPong && s.srv.timers.Now() >= s.due
	s.mu.Unlock()
	if overdue {
		s.closeWith("ping timeout", closeAbort)
	}
	return overdue
}

// onHeartbeat runs on the timer: ping the client, or give up on it.
func (s *session) onHeartbeat() {
	s.mu.Lock()
	if s.state() != stateOpen || s.srv.timers.Now() < s.due {
		// Closed, or the timer was re-armed after this firing started.
		s.mu.Unlock()
		return
	}
	if s.awaitingPong {
		s.mu.Unlock()
		s.closeWith("ping timeout", closeAbort)
		return
	}
	s.enqueueControlLocked(packetPing)
	s.awaitingPong = true
	// The pong is due PingTimeout after the ping was due, not after this
	// timer ran: a late timer does not lengthen the client's deadline.
	s.armTimerLocked(s.due + s.srv.opts.PingTimeout)
	s.wakeLocked()
	s.mu.Unlock()
}

func (s *session) onPong() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state() != stateOpen || !s.awaitingPong {
		return
	}
	s.awaitingPong = false
	s.resetHeartbeatLocked(s.srv.opts.PingInterval)
	s.releaseQueueLocked()
}

// releaseQueueLocked lets go of the arrays that the queue and the writer
// of its WebSocket keep for reuse, when nothing is queued. Done at each
// pong, it leaves an idle session none between two pings (two 48-byte
// arrays otherwise, for the life of the connection), and costs a busy one
// two small allocations per ping interval.
func (s *session) releaseQueueLocked() {
	if len(s.queue) > 0 {
		return
	}
	s.queue = nil
	if s.ws != nil {
		s.ws.spare = nil
	}
}

// closeWith starts closing the session: the listener gets OnClose(reason)
// (on its own goroutine, so closing is safe from any call site, including
// the listener itself), and the transport writes what mode says before
// the session is finished.
func (s *session) closeWith(reason string, mode closeMode) {
	s.mu.Lock()
	if s.state() != stateOpen {
		s.mu.Unlock()
		return
	}
	s.setStateLocked(stateClosing)
	s.mode = mode
	s.srv.timers.Cancel(&s.timer)
	if mode != closeGraceful && mode != closeDiscard {
		clear(s.queue)
		s.queue = s.queue[:0]
		s.queuedMessages = 0
	}
	probe := s.probeConnLocked()
	if s.probingLocked() {
		s.stopProbeLocked()
		s.leaveProbeLocked()
	}
	finishNow := false
	switch polling := s.phase == phasePolling; {
	case polling && s.poll != nil:
		// The pending GET carries the close packet (a noop when the client
		// closed) and finishes.
		signal(s.poll)
	case polling && (!s.registered || mode != closeGraceful):
		finishNow = true
	case polling:
		// Keep the session for the client's next GET, which gets the close
		// packet, as the reference server does when it closes a session.
		s.draining = true
		s.resetHeartbeatLocked(s.srv.opts.PingTimeout)
	case s.ws != nil:
		s.wakeWriterLocked(s.ws)
	}
	registered := s.registered
	s.mu.Unlock()

	if probe != nil {
		_ = probe.Close()
	}
	if registered {
		s.srv.openSessions.Add(-1)
		if mode != closeGraceful {
			// Its sid is unknown from now on, as the reference server
			// forgets a session the moment it closes; only the server's
			// own close keeps it for the GET that fetches the close packet.
			s.srv.unlink(s)
		}
	}
	s.srv.log.Debug("engineio session closed", "sid", s.id, "reason", reason)
	s.srv.goTracked(func() {
		s.deliverMu.Lock()
		defer s.deliverMu.Unlock()
		if s.listener != nil {
			s.listener.OnClose(reason)
		}
	})
	if finishNow {
		s.finish()
	}
}

// finish ends a closing session: its timers stop and the server forgets
// it. It runs once; later calls do nothing.
func (s *session) finish() {
	s.mu.Lock()
	if s.state() == stateClosed {
		s.mu.Unlock()
		return
	}
	if s.state() == stateOpen {
		// Finishing an open session (a transport that failed to start).
		s.mu.Unlock()
		s.closeWith("transport error", closeByPeer)
		s.mu.Lock()
		if s.state() == stateClosed {
			s.mu.Unlock()
			return
		}
	}
	s.setStateLocked(stateClosed)
	s.srv.timers.Cancel(&s.timer)
	clear(s.queue)
	s.queue = nil
	s.mu.Unlock()
	s.srv.forget(s)
}

// abandon cuts the transport of a session that did not finish in time
// during Shutdown.
func (s *session) abandon() {
	s.mu.Lock()
	ws := s.ws
	polling := s.phase != phaseWebSocket
	if s.poll != nil {
		signal(s.poll)
	}
	s.mu.Unlock()
	if ws != nil {
		ws.closeConn()
	}
	if polling {
		s.finish()
	}
}

// servesPollingLocked reports whether a polling request (GET or POST)
// may be served: not once the WebSocket carries the session, when the
// reference server refuses it as a transport mismatch.
func (s *session) servesPollingLocked() bool {
	return s.phase != phaseWebSocket
}

// servesPolling is servesPollingLocked for a caller without the lock.
func (s *session) servesPolling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.servesPollingLocked()
}

// reserveProbe decides, while the WebSocket request is answered, whether
// that WebSocket may probe the upgrade: only when the session is open, was
// never upgraded and no other WebSocket probes it (server.ts onWebSocket:
// "upgrading" and "upgraded" are closed). A session carried by polling
// goes on polling meanwhile, one that started on a WebSocket goes on over
// it. Deciding before the 101 answer, rather than once the connection is
// handed over, makes the first WebSocket the client opened the probe,
// however the goroutines that take over two connections are scheduled.
// It returns the reservation, nil when
// refused: the caller then accepts the WebSocket and closes it, as the
// reference server does. A reservation that no connection claims within
// timeout (the answer could not be written) ends the probe.
func (s *session) reserveProbe(timeout time.Duration) *transit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state() != stateOpen || s.probingLocked() || s.upgraded {
		return nil
	}
	if s.phase == phaseWebSocket {
		s.wsProbing = true
	} else {
		s.phase = phaseProbing
	}
	return s.startProbeLocked(timeout)
}

// startProbeLocked makes the reservation of a probe that starts, which
// ends after timeout unless it is claimed, or the probe ends, before.
func (s *session) startProbeLocked(timeout time.Duration) *transit {
	res := &transit{s: s}
	res.timer.Init(probeExpired, res)
	s.transit = res
	s.srv.timers.After(&res.timer, timeout)
	return res
}

// probeExpired ends a probe reservation that no connection claimed in
// time.
func probeExpired(arg any) {
	res := arg.(*transit)
	res.s.endProbe(res, nil)
}

// probeConnLocked is the WebSocket that probes the session, nil when none
// is attached.
func (s *session) probeConnLocked() *fws.Conn {
	if s.transit == nil {
		return nil
	}
	return s.transit.conn
}

// attachProbe hands the WebSocket of reservation res to the session; it
// reports false when the reservation is gone (the session closed, or the
// reservation timed out).
func (s *session) attachProbe(res *transit, conn *fws.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if res == nil || s.state() != stateOpen || !s.probingLocked() || s.transit != res || res.conn != nil {
		return false
	}
	res.conn = conn
	s.srv.timers.Cancel(&res.timer)
	return true
}

// probeAnsweredBy records that conn answered the probe ping: from now on a
// pending GET is released on each upgrade tick. It reports false when conn
// no longer probes the session.
func (s *session) probeAnsweredBy(conn *fws.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probeConnLocked() != conn {
		return false
	}
	s.transit.answered = time.Now()
	if s.poll != nil {
		// The pending GET recomputes how long it may wait.
		signal(s.poll)
	}
	return true
}

// endProbe returns a session to its transport when the probe of
// reservation res failed; conn is its connection, nil when none was
// attached.
func (s *session) endProbe(res *transit, conn *fws.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.probingLocked() || s.transit != res || res.conn != conn {
		return
	}
	s.stopProbeLocked()
	s.leaveProbeLocked()
}

// probingLocked reports whether a WebSocket probes the session.
func (s *session) probingLocked() bool {
	return s.phase == phaseProbing || s.wsProbing
}

// leaveProbeLocked returns the session to the transport that carried it
// while it was probed.
func (s *session) leaveProbeLocked() {
	if s.phase == phaseProbing {
		s.phase = phasePolling
	}
	s.wsProbing = false
}

// stopProbeLocked forgets the probe and its timer.
func (s *session) stopProbeLocked() {
	if s.transit != nil {
		s.srv.timers.Cancel(&s.transit.timer)
		s.transit = nil
	}
}

// switchToWebSocket makes link, whose connection probed the session,
// carry it: the client sent the upgrade packet. From this moment on every
// polling request is refused, a GET still pending included, and the queue
// is written on the WebSocket. It returns the WebSocket that carried the
// session until now, if one did, marked retired for the caller to close,
// and reports false when conn no longer probes an open session.
func (s *session) switchToWebSocket(link *wsLink) (replaced *wsLink, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state() != stateOpen || s.probeConnLocked() != link.conn {
		return nil, false
	}
	s.phase = phaseWebSocket
	s.wsProbing = false
	s.upgraded = true
	s.stopProbeLocked()
	replaced = s.ws
	if replaced != nil {
		replaced.retire()
	}
	s.ws = link
	if s.poll != nil {
		signal(s.poll)
	}
	return replaced, true
}
