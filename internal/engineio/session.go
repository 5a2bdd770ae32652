package engineio

import (
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
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
type closeMode int

const (
	// closeGraceful writes the queued messages, then the close packet.
	closeGraceful closeMode = iota
	// closeAbort drops the queue and writes only the close packet.
	closeAbort
	// closeByPeer writes nothing more: the client closed the transport
	// (polling still answers a pending GET with a close packet, as the
	// reference server does).
	closeByPeer
)

// session is one Engine.IO session; it implements Conn.
type session struct {
	srv       *Server
	id        string
	handshake *Handshake

	// deliverMu serialises the listener's calls: Open, each OnMessage and
	// the final OnClose.
	deliverMu sync.Mutex
	listener  Listener

	// status mirrors the state for lock-free reads on the message path;
	// it only changes under mu.
	status atomic.Int32

	mu         sync.Mutex
	transport  string
	registered bool
	mode       closeMode
	// queue holds the packets not yet written; queuedMessages counts the
	// messages among them against Options.SendQueue.
	queue          []packet
	queuedMessages int
	// dropped counts the messages the drop_oldest policy discarded.
	dropped int
	// poll wakes the pending long-poll GET; nil when there is none.
	poll chan struct{}
	// posting is set while a POST is being processed.
	posting bool
	// ws is the WebSocket once it carries the session.
	ws *wsLink
	// probe is a WebSocket testing the upgrade; probed once it answered
	// the probe ping, after which GETs are answered at once so that the
	// client can pause polling.
	probe     *fws.Conn
	upgrading bool
	probed    bool
	// One timer drives the heartbeat: it sends the ping after
	// PingInterval, then closes the session when no pong came within
	// PingTimeout. heartbeatDue detects a firing that a reset superseded.
	heartbeat    *time.Timer
	heartbeatDue time.Time
	awaitingPong bool
	// drainTimer finishes a closed polling session whose client never
	// came back for the close packet.
	drainTimer *time.Timer
}

func (s *session) state() sessionState { return sessionState(s.status.Load()) }

func (s *session) setStateLocked(st sessionState) { s.status.Store(int32(st)) }

// ID implements Conn.
func (s *session) ID() string { return s.id }

// Handshake implements Conn.
func (s *session) Handshake() *Handshake { return s.handshake }

// Transport implements Conn.
func (s *session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Send implements Conn.
func (s *session) Send(msgs ...Message) error {
	s.mu.Lock()
	if s.state() != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	if limit := s.srv.opts.SendQueue; s.queuedMessages+len(msgs) > limit {
		if s.srv.opts.SlowConsumer != SlowConsumerDropOldest || len(msgs) > limit {
			link := s.ws
			s.mu.Unlock()
			s.closeWith("slow consumer", closeAbort)
			if link != nil {
				// A write stuck on the client's full window fails now
				// rather than at its deadline.
				_ = link.raw.SetWriteDeadline(time.Now())
			}
			return ErrQueueFull
		}
		s.dropOldestLocked(s.queuedMessages + len(msgs) - limit)
	}
	for i, m := range msgs {
		s.queue = append(s.queue, packet{typ: packetMessage, data: m.Data, binary: m.Binary, continued: i > 0})
	}
	s.queuedMessages += len(msgs)
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
	s.queuedMessages -= dropped
	s.dropped += dropped
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
	case s.transport == TransportPolling && s.poll != nil:
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

// resetHeartbeatLocked arms the heartbeat timer to fire after d.
func (s *session) resetHeartbeatLocked(d time.Duration) {
	s.heartbeatDue = time.Now().Add(d)
	if s.heartbeat == nil {
		s.heartbeat = time.AfterFunc(d, s.onHeartbeat)
		return
	}
	s.heartbeat.Reset(d)
}

// onHeartbeat runs on the timer: ping the client, or give up on it.
func (s *session) onHeartbeat() {
	s.mu.Lock()
	if s.state() != stateOpen || time.Now().Before(s.heartbeatDue) {
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
	s.resetHeartbeatLocked(s.srv.opts.PingTimeout)
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
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	if mode != closeGraceful {
		clear(s.queue)
		s.queue = s.queue[:0]
		s.queuedMessages = 0
	}
	probe := s.probe
	s.probe = nil
	finishNow := false
	switch {
	case s.transport == TransportPolling && s.poll != nil:
		// The pending GET carries the close packet and finishes.
		signal(s.poll)
	case s.transport == TransportPolling && (!s.registered || mode == closeByPeer):
		finishNow = true
	case s.transport == TransportPolling:
		// Keep the session for the client's next GET, which gets the close
		// packet, as the reference server does.
		s.drainTimer = time.AfterFunc(s.srv.opts.PingTimeout, s.finish)
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
	if s.drainTimer != nil {
		s.drainTimer.Stop()
	}
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
	polling := s.transport == TransportPolling
	if s.poll != nil {
		signal(s.poll)
	}
	s.mu.Unlock()
	if ws != nil {
		_ = ws.conn.Close()
	}
	if polling {
		s.finish()
	}
}

// canUpgrade reports whether a WebSocket may start probing the session.
func (s *session) canUpgrade() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state() == stateOpen && s.transport == TransportPolling && !s.upgrading
}
