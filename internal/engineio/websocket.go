package engineio

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
)

// packetTypeChars lets a frame's type prefix be written without allocating.
const packetTypeChars = "0123456"

// closeFrameTimeout bounds the courtesy close frame on a failed upgrade.
const closeFrameTimeout = time.Second

// wsLink is a WebSocket carrying a session. There is no writer goroutine
// per connection: whoever finds packets queued and no write in progress
// becomes the writer until the queue is empty — the read goroutine (or the
// poller's worker) after handing a message to the listener, so that an ack
// goes out with no goroutine switch; when a packet is queued from
// elsewhere (a broadcast, the heartbeat, a close), one of the server's
// flushers for a link the poller reads (flushPool), else a goroutine
// started for the occasion. An idle connection thus costs no goroutine of
// its own on the poller, its read goroutine on the goroutine path.
type wsLink struct {
	// conn is the WebSocket library's connection, read by the read
	// goroutine only; nil once the poller reads the link (pc).
	conn *fws.Conn
	// pc is set once the poller reads the connection instead of a
	// goroutine; linkDetached is set just before, so that the goroutine
	// that handed it over leaves the session to the poller.
	pc atomic.Pointer[pollConn]
	// raw is the connection under the WebSocket, or the socket itself
	// once the poller took it (fdConn). The writer frames the whole queue
	// into one buffer and writes it with one call; a single Write is never
	// interleaved with another one on the same connection, so the control
	// frames the WebSocket library answers on its own (pong, close) stay
	// whole. It changes hands only while handOff holds the link's writes
	// and the session's mu.
	raw linkConn
	// flags holds linkDetached and linkRetired.
	flags atomic.Uint32

	// The fields below are guarded by the session's mu.

	// writing is set while a goroutine writes the queue.
	writing bool
	// reading is set while the read goroutine hands a message to the
	// listener; it flushes the queue itself afterwards.
	reading bool
	// closed is set once the writer closed the connection; nothing more is
	// written.
	closed bool
	// pongQueued is set while the answer to a client's ping is queued.
	pongQueued bool
	// taken and written count the batches the writer took from the queue
	// and wrote whole, so that Flush knows when what it saw queued is out.
	// They count modulo 2^32: Flush compares them by their difference,
	// which stays small, since one writer at a time holds one batch.
	taken, written uint32
	// writerIdle is what those waiting for a change of the writer's state
	// (writing cleared, a batch written, the link closed) wait on, made by
	// the first of them and dropped by the broadcast that wakes them
	// (waitWriterLocked, writerChangedLocked): most links never have one.
	writerIdle *sync.Cond
	// spare is the queue slice the writer hands back for reuse.
	spare []packet
	// closeFrame, set by the poller's read side, is the close frame the
	// writer sends instead of everything else once the session closes (a
	// refused frame, or the answer to the client's close frame).
	closeFrame *[]byte
}

// The flags of a link, read and set without the session's mu.
const (
	// linkDetached: see pc.
	linkDetached uint32 = 1 << iota
	// linkRetired is set when another WebSocket took the session over:
	// this one no longer reads for it nor writes its queue (see
	// retireLink).
	linkRetired
)

func (l *wsLink) isDetached() bool { return l.flags.Load()&linkDetached != 0 }

func (l *wsLink) isRetired() bool { return l.flags.Load()&linkRetired != 0 }

// retire marks l as taken over by another WebSocket (linkRetired).
func (l *wsLink) retire() { l.flags.Or(linkRetired) }

func (l *wsLink) setDetached(on bool) {
	if on {
		l.flags.Or(linkDetached)
	} else {
		l.flags.And(^linkDetached)
	}
}

// waitWriterLocked waits, with s.mu held, for the next change of link's
// writer state; the caller checks what it waits for again afterwards.
func (s *session) waitWriterLocked(link *wsLink) {
	if link.writerIdle == nil {
		link.writerIdle = sync.NewCond(&s.mu)
	}
	link.writerIdle.Wait()
}

// writerChangedLocked wakes those waiting for a change of link's writer
// state, with s.mu held. The next to wait makes a new Cond: those woken
// hold s.mu before they look again, so no change is missed.
func (s *session) writerChangedLocked(link *wsLink) {
	if c := link.writerIdle; c != nil {
		link.writerIdle = nil
		c.Broadcast()
	}
}

// linkConn is what a link writes its frames to and closes: the net.Conn
// under the WebSocket, or the socket the poller took from it (fdConn).
type linkConn interface {
	Write(b []byte) (int, error)
	SetWriteDeadline(t time.Time) error
	Close() error
}

// setReadDeadline sets the read deadline of c when a goroutine reads it
// (a net.Conn); the poller's reads of a socket it took never wait.
func setReadDeadline(c linkConn, t time.Time) {
	if rc, ok := c.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = rc.SetReadDeadline(t)
	}
}

// closeConn closes the connection; a polled one is taken out of the
// poller first, and given a read turn, which fails and ends the link's
// session.
func (l *wsLink) closeConn() {
	pc := l.pc.Load()
	if pc != nil {
		pc.poller().remove(pc)
	}
	_ = l.raw.Close()
	if pc != nil && !pc.isDone() {
		pc.poller().ready(pc)
	}
}

// writeControl writes a control frame (framed by appendControlFrame)
// within deadline, with one call, so that it is never interleaved with
// the writer's frames.
func (l *wsLink) writeControl(frame []byte, deadline time.Time) {
	_ = l.raw.SetWriteDeadline(deadline)
	_ = writeAll(l.raw, frame)
}

// recoverWebSocket logs a panic on a WebSocket goroutine; the deferred
// clean-ups of the session have run by then. It is the RecoverHandler of
// the WebSocket upgrade, deferred by it, so that recover works.
func (srv *Server) recoverWebSocket(*websocket.Conn) {
	if r := recover(); r != nil {
		srv.log.Error("engineio websocket panic", "panic", r, "stack", string(debug.Stack()))
	}
}

// openWebSocket runs a session that starts on a WebSocket: the handshake
// is its first frame.
func (srv *Server) openWebSocket(hs *Handshake, conn *fws.Conn) (kept bool) {
	if hs == nil {
		_ = conn.Close()
		return false
	}
	s, err := srv.newSession(hs, TransportWebSocket)
	if err != nil {
		deadline := srv.opts.Now().Add(closeFrameTimeout)
		_ = conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseGoingAway, "server shutting down"), deadline)
		_ = conn.Close()
		return false
	}
	link := s.newLink(conn)
	open := srv.openPacket(s.id, []string{})
	s.mu.Lock()
	s.ws = link
	s.queue = append(s.queue, packet{typ: packetOpen, data: open[1:]})
	// The open packet, and whatever Open queues behind it, go out once the
	// session is registered, from this goroutine.
	link.reading = true
	s.mu.Unlock()

	defer s.stopWebSocket(link)
	s.open(srv.handler)
	srv.register(s)
	s.doneReading(link)
	return s.serveLink(link, conn)
}

// serveLink reads link for its session until the connection ends, or
// hands it to the poller, reporting true: the connection is the poller's
// from then on, and the caller's stopWebSocket leaves it be.
func (s *session) serveLink(link *wsLink, conn *fws.Conn) bool {
	if s.handOff(link, conn) {
		return true
	}
	s.readLoop(link)
	return false
}

// upgradeWebSocket lets conn, the WebSocket of probe reservation res,
// probe polling session s and, when the client confirms, carry it from
// then on. A WebSocket without a valid reservation is closed.
func (srv *Server) upgradeWebSocket(s *session, res *transit, conn *fws.Conn) (kept bool) {
	if s == nil || !s.attachProbe(res, conn) {
		refuseWebSocket(conn)
		return false
	}
	link := srv.probe(s, conn)
	if link == nil {
		s.endProbe(res, conn)
		_ = conn.Close()
		return false
	}
	_ = conn.SetReadDeadline(time.Time{})
	defer s.stopWebSocket(link)
	s.mu.Lock()
	s.wakeWriterLocked(link)
	s.mu.Unlock()
	return s.serveLink(link, conn)
}

// refuseWebSocket closes an open WebSocket that carries no session, with
// a close frame without status, as the reference server closes it.
func refuseWebSocket(conn *fws.Conn) {
	deadline := time.Now().Add(closeFrameTimeout)
	_ = conn.WriteControl(fws.CloseMessage, []byte{}, deadline)
	_ = conn.Close()
}

// probe answers the client's probe ping and waits for its upgrade packet,
// within UpgradeTimeout. It returns the link now carrying the session, or
// nil when the upgrade failed (the session goes on polling).
func (srv *Server) probe(s *session, conn *fws.Conn) *wsLink {
	_ = conn.SetReadDeadline(srv.opts.Now().Add(srv.opts.UpgradeTimeout))
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
			_ = conn.SetWriteDeadline(srv.opts.Now().Add(srv.writeTimeout()))
			if err := writeFrame(conn, packet{typ: packetPong, data: []byte(probe)}); err != nil {
				return nil
			}
			if !s.probeAnsweredBy(conn) {
				return nil
			}
		case p.typ == packetUpgrade:
			link := s.newLink(conn)
			replaced, ok := s.switchToWebSocket(link)
			if !ok {
				return nil
			}
			if replaced != nil {
				s.retireLink(replaced)
			}
			srv.log.Debug("engineio session upgraded", "sid", s.id)
			return link
		default:
			return nil
		}
	}
}

// retireLink closes link, a WebSocket that another one took the session
// over from, once its writer is done: with a close frame without status,
// as the reference server closes the transport it discards on an upgrade.
// Its read goroutine then returns without touching the session.
func (s *session) retireLink(link *wsLink) {
	s.mu.Lock()
	for link.writing {
		s.waitWriterLocked(link)
	}
	closed := link.closed
	link.closed = true
	s.writerChangedLocked(link)
	s.mu.Unlock()
	if closed {
		return
	}
	deadline := s.srv.opts.Now().Add(closeFrameTimeout)
	link.writeControl(appendControlFrame(nil, opClose, nil), deadline)
	setReadDeadline(link.raw, deadline)
	link.closeConn()
}

// stopWebSocket ends a session whose reader returned (or panicked): it
// makes sure the session is closing, waits for a writer still at work,
// writes what the close mode asks for and finishes. A retired link only
// closes itself: another WebSocket carries the session. A link handed to
// the poller is left to it: it calls stopLink when the link ends.
func (s *session) stopWebSocket(link *wsLink) {
	if link.isDetached() {
		return
	}
	s.stopLink(link)
}

// stopLink is stopWebSocket for a link whichever reads it.
func (s *session) stopLink(link *wsLink) {
	if link.isRetired() {
		s.retireLink(link)
		return
	}
	s.closeWith("transport error", closeByPeer)
	s.mu.Lock()
	link.reading = false
	for link.writing {
		s.waitWriterLocked(link)
	}
	if link.closed {
		s.mu.Unlock()
	} else {
		link.writing = true
		s.mu.Unlock()
		s.flushWebSocket(link)
	}
	s.finish()
}

// readLoop hands the client's packets to the session until the connection
// fails or the session ends. What the listener queues meanwhile (typically
// the ack) is written by this goroutine too: just before it reads the
// socket again when the connection comes from WrapListener, so that the
// replies to messages that arrived together leave in one write, else after
// each message.
func (s *session) readLoop(link *wsLink) {
	conn := link.conn
	// flushPending is only touched on this goroutine: here and in the
	// hook, which the connection runs on the goroutine that reads it.
	flushPending := false
	flush := func() {
		if flushPending {
			flushPending = false
			s.doneReading(link)
		}
	}
	clock := messageClock{conn: conn, timeout: s.srv.opts.MessageTimeout, now: s.srv.opts.Now}
	hook := hookConnOf(conn.UnderlyingConn())
	if hook != nil {
		beforeRead := func() {
			clock.beforeRead()
			flush()
		}
		hook.beforeRead.Store(&beforeRead)
		defer hook.beforeRead.Store(nil)
	}
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			flush()
			s.closeOnReadError(link, err, false)
			return
		}
		clock.begin(hook != nil)
		buf := s.srv.buffers.get()
		buf.B, err = readAppend(buf.B[:0], r)
		if err != nil {
			s.srv.buffers.put(buf)
			flush()
			s.closeOnReadError(link, err, clock.armed)
			return
		}
		clock.end()
		if link.isRetired() {
			// Taken over by another WebSocket: what still comes here is
			// not the session's any more.
			s.srv.buffers.put(buf)
			return
		}
		if !flushPending {
			s.mu.Lock()
			link.reading = true
			s.mu.Unlock()
		}
		keepReading := true
		if typ == fws.BinaryMessage {
			s.deliver(Message{Data: buf.B, Binary: true})
		} else if p, err := decodePacket(buf.B); err != nil {
			s.closeWith("parse error", closeAbort)
			keepReading = false
		} else {
			keepReading = s.receive(p)
		}
		s.srv.buffers.put(buf)
		if hook != nil && keepReading {
			// link.reading stays set: whatever is queued until then waits
			// for this goroutine's next read of the socket.
			flushPending = true
			continue
		}
		flushPending = false
		s.doneReading(link)
		if !keepReading {
			return
		}
	}
}

// doneReading ends the read goroutine's turn with a message: what was
// queued meanwhile is written now, from this goroutine.
func (s *session) doneReading(link *wsLink) {
	s.mu.Lock()
	link.reading = false
	if link.writing || link.closed || !s.hasWorkLocked() {
		s.mu.Unlock()
		return
	}
	link.writing = true
	s.mu.Unlock()
	s.flushWebSocket(link)
}

// hasWorkLocked reports whether a writer has something to do: packets
// queued, or the session closing.
func (s *session) hasWorkLocked() bool {
	return len(s.queue) > 0 || s.state() != stateOpen
}

// wakeWriterLocked makes sure the queue gets written: by the read
// goroutine when it is handing over a message (it flushes afterwards), by
// the writer at work, or else by the server's flushers for a polled link
// (see flushPool) and by a goroutine started for it otherwise.
func (s *session) wakeWriterLocked(link *wsLink) {
	if link.writing || link.reading || link.closed || !s.hasWorkLocked() {
		return
	}
	link.writing = true
	if link.pc.Load() != nil {
		s.srv.flush.submit(s, link)
		return
	}
	s.srv.goTracked(func() { s.flushWoken(link) })
}

// flushWoken is the writer started for packets queued from elsewhere than
// the read goroutine. It lets the goroutines already runnable go first:
// a broadcast queues its packet on every recipient and starts a writer for
// each, while other goroutines queue other broadcasts on the same
// sessions; a writer that ran at once would write one packet per call,
// one that yields first finds what was queued meanwhile and writes it all
// with one call. A write costs far more than the packets in it (a system
// call, and the peer's wake-up), so under load this is most of the cost
// of a delivery; when nothing else is runnable Gosched returns at once,
// and an ack, written by the read goroutine, never waits here.
func (s *session) flushWoken(link *wsLink) {
	runtime.Gosched()
	s.flushWebSocket(link)
}

// closeOnReadError closes the session after the connection failed, unless
// another WebSocket carries it now (the link is retired): a message over
// MaxPayload (the WebSocket library has sent the close frame 1009) is a
// transport error, as is a message unfinished within
// MessageTimeout (inMessage: the message's read deadline was set), closed
// with 1008 and its reason; both are reported to Options.Refused. Anything
// else means the client went away.
func (s *session) closeOnReadError(link *wsLink, err error, inMessage bool) {
	if link.isRetired() {
		return
	}
	switch {
	case errors.Is(err, fws.ErrReadLimit):
		s.srv.reportLimit(RefusedMaxPayload, &s.handshake)
		s.closeWith("transport error", closeAbort)
	case inMessage && isTimeout(err) && s.state() == stateOpen:
		s.srv.reportLimit(RefusedMessageTimeout, &s.handshake)
		// The close frame first: after it, the client ignores the rest.
		deadline := s.srv.opts.Now().Add(closeFrameTimeout)
		link.writeControl(appendControlFrame(nil, opClose,
			fws.FormatCloseMessage(fws.ClosePolicyViolation, "message not finished within the message timeout")), deadline)
		s.closeWith("transport error", closeByPeer)
	default:
		s.closeWith("transport close", closeByPeer)
	}
}

// maxWriteBatch is how many framed bytes the writer gathers before a
// write; a larger single message is written whole.
const maxWriteBatch = 64 << 10

// flushWebSocket writes the queue until it is empty, then, when the session
// is closing, the close packet and the close frame. The caller has set
// link.writing; flushWebSocket clears it when done.
func (s *session) flushWebSocket(link *wsLink) {
	s.flushFrom(link, nil, nil, 0)
}

// flushFrom is flushWebSocket for a writer that takes over a batch a
// flusher began (see flushTurn): rest, the framed bytes the socket did
// not take, and batch[from:] are written first.
func (s *session) flushFrom(link *wsLink, rest []byte, batch []packet, from int) {
	buf := s.srv.buffers.get()
	defer s.srv.buffers.put(buf)
	if batch != nil {
		buf.B = append(buf.B[:0], rest...)
		if !s.writeBatch(link, buf, batch, from, stateOpen) {
			return
		}
	}
	for {
		s.mu.Lock()
		if !s.hasWorkLocked() || link.closed || link.isRetired() {
			link.writing = false
			s.writerChangedLocked(link)
			s.mu.Unlock()
			return
		}
		batch := s.takeBatchLocked(link)
		st, mode, closeFrame := s.state(), s.mode, link.closeFrame
		s.mu.Unlock()

		if st != stateOpen && (mode == closeByPeer || closeFrame != nil) {
			if closeFrame != nil {
				link.writeControl(*closeFrame, s.srv.opts.Now().Add(closeFrameTimeout))
			}
			s.closeLink(link, 0)
			return
		}
		buf.B = buf.B[:0]
		if !s.writeBatch(link, buf, batch, 0, st) {
			return
		}
	}
}

// takeBatchLocked takes the queue for a writer, leaving the spare slice
// in its place.
func (s *session) takeBatchLocked(link *wsLink) []packet {
	batch := s.queue
	s.queue = link.spare[:0]
	link.spare = nil
	link.taken++
	link.pongQueued = false
	s.queuedMessages = 0
	return batch
}

// writeBatch writes batch[from:] after the bytes in buf, gathering at
// most maxWriteBatch bytes per write, within the write timeout; then, when
// the session was closing (st), the close packet and the close frame, and
// the link is closed. It reports whether the writer goes on: false once
// the link is closed, the write having failed or the session ended.
func (s *session) writeBatch(link *wsLink, buf *buffer, batch []packet, from int, st sessionState) bool {
	deadline := s.srv.opts.Now().Add(s.srv.writeTimeout())
	_ = link.raw.SetWriteDeadline(deadline)
	var err error
	for _, p := range batch[from:] {
		buf.B = appendFrame(buf.B, p)
		if len(buf.B) >= maxWriteBatch {
			if err = writeAll(link.raw, buf.B); err != nil {
				break
			}
			buf.B = buf.B[:0]
		}
	}
	if err == nil && st != stateOpen {
		buf.B = appendFrame(buf.B, packet{typ: packetClose})
	}
	if err == nil && len(buf.B) > 0 {
		err = writeAll(link.raw, buf.B)
	}
	if cap(buf.B) > maxPooledBuffer {
		buf.B = nil
	}
	if err != nil {
		clear(batch)
		s.closeWith("transport error", closeByPeer)
		s.closeLink(link, 0)
		return false
	}
	if st != stateOpen {
		clear(batch)
		link.writeControl(appendControlFrame(nil, opClose, fws.FormatCloseMessage(fws.CloseNormalClosure, "")), deadline)
		s.closeLink(link, closeFrameTimeout)
		return false
	}
	s.batchWritten(link, batch, false)
	return true
}

// batchWritten hands batch, written whole, back for reuse and counts it
// for Flush. It reports whether more is queued for the writer; with
// release, a writer that has nothing more to do lets the link go.
func (s *session) batchWritten(link *wsLink, batch []packet, release bool) (more bool) {
	clear(batch)
	s.mu.Lock()
	link.spare = batch[:0]
	link.written++
	more = s.hasWorkLocked() && !link.closed && !link.isRetired()
	if release && !more {
		link.writing = false
	}
	s.writerChangedLocked(link) // for Flush, and stopLink when released
	s.mu.Unlock()
	return more
}

var _ Flusher = (*session)(nil)

// Flush implements Flusher. It waits for the batch that holds what is
// queued now, or writes it itself when no writer is at work: even when the
// read goroutine has kept the write for its next read of the socket.
func (s *session) Flush() {
	s.mu.Lock()
	link := s.ws
	if link == nil {
		s.mu.Unlock()
		return
	}
	target := link.taken // a batch taken, maybe not written yet
	if len(s.queue) > 0 {
		target++ // the next batch takes the queue
	}
	// A WebSocket that took the session over meanwhile writes the rest.
	for int32(target-link.written) > 0 && !link.closed && s.ws == link && s.state() == stateOpen {
		if !link.writing {
			link.writing = true
			s.mu.Unlock()
			s.flushWebSocket(link)
			return
		}
		s.waitWriterLocked(link)
	}
	s.mu.Unlock()
}

// closeLink ends the connection once the writer is done with it. Closing
// a hijacked connection is left to the HTTP server, which does it when the
// read goroutine returns; so the read goroutine is given grace to read the
// client's answer to a close frame, and then its read fails, even when the
// client reads nothing any more (a slow consumer).
func (s *session) closeLink(link *wsLink, grace time.Duration) {
	setReadDeadline(link.raw, s.srv.opts.Now().Add(grace))
	link.closeConn()
	s.mu.Lock()
	link.closed = true
	link.writing = false
	s.writerChangedLocked(link)
	s.mu.Unlock()
}

// writeAll writes b with one call, which the connection completes or fails.
func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// appendFrame appends p as one unmasked, unfragmented WebSocket frame, as
// a server sends them (RFC 6455 section 5.2): binary messages as binary
// frames (no prefix in v4), everything else as text with its type
// character first.
func appendFrame(b []byte, p packet) []byte {
	if p.typ == packetWSPong {
		return appendControlFrame(b, opPong, p.data)
	}
	opcode, size := byte(fws.TextMessage), len(p.data)+1
	if p.binary {
		opcode, size = byte(fws.BinaryMessage), len(p.data)
	}
	b = append(b, 0x80|opcode) // FIN: the whole message in one frame
	switch {
	case size < 126:
		b = append(b, byte(size))
	case size <= 0xFFFF:
		b = append(b, 126, byte(size>>8), byte(size))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(size))
	}
	if !p.binary {
		b = append(b, byte(p.typ))
	}
	return append(b, p.data...)
}

// writeFrame writes one packet as one WebSocket frame: binary messages as
// binary frames (no prefix in v4), everything else as text with its type
// character first.
func writeFrame(conn *fws.Conn, p packet) error {
	if p.binary {
		return conn.WriteMessage(fws.BinaryMessage, p.data)
	}
	w, err := conn.NextWriter(fws.TextMessage)
	if err != nil {
		return err
	}
	i := int(p.typ - packetOpen)
	if _, err := io.WriteString(w, packetTypeChars[i:i+1]); err != nil {
		return err
	}
	if _, err := w.Write(p.data); err != nil {
		return err
	}
	return w.Close()
}
