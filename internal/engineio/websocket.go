package engineio

import (
	"errors"
	"io"
	"runtime/debug"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
)

// packetTypeChars lets a frame's type prefix be written without allocating.
const packetTypeChars = "0123456"

// closeFrameTimeout bounds the courtesy close frame on a failed upgrade.
const closeFrameTimeout = time.Second

// wsLink is a WebSocket carrying a session. Its writer goroutine owns all
// writes; the goroutine that accepted the connection reads.
type wsLink struct {
	conn *fws.Conn
	// notify wakes the writer: packets queued or the session closing.
	notify     chan struct{}
	writerDone chan struct{}
}

func newLink(conn *fws.Conn) *wsLink {
	return &wsLink{conn: conn, notify: make(chan struct{}, 1), writerDone: make(chan struct{})}
}

// serveWebSocket runs on the hijacked connection: a new session or the
// upgrade of a polling one, as decided by handle before the upgrade.
func (srv *Server) serveWebSocket(c *websocket.Conn) {
	srv.alive.add()
	defer srv.alive.done()
	conn := c.Conn
	conn.SetReadLimit(srv.opts.MaxPayload)
	switch {
	case c.Locals(localUpgrade) != nil:
		s, _ := c.Locals(localUpgrade).(*session)
		srv.upgradeWebSocket(s, conn)
	default:
		hs, _ := c.Locals(localHandshake).(*Handshake)
		srv.openWebSocket(hs, conn)
	}
}

// recoverWebSocket logs a panic on a WebSocket goroutine; the deferred
// clean-ups of the session have run by then.
func (srv *Server) recoverWebSocket(_ *websocket.Conn) {
	if r := recover(); r != nil {
		srv.log.Error("engineio websocket panic", "panic", r, "stack", string(debug.Stack()))
	}
}

// openWebSocket runs a session that starts on a WebSocket: the handshake
// is its first frame.
func (srv *Server) openWebSocket(hs *Handshake, conn *fws.Conn) {
	if hs == nil {
		_ = conn.Close()
		return
	}
	s, err := srv.newSession(hs, TransportWebSocket)
	if err != nil {
		deadline := srv.opts.Now().Add(closeFrameTimeout)
		_ = conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseGoingAway, "server shutting down"), deadline)
		_ = conn.Close()
		return
	}
	link := newLink(conn)
	open := srv.openPacket(s.id, []string{})
	s.mu.Lock()
	s.ws = link
	s.queue = append(s.queue, packet{typ: packetOpen, data: open[1:]})
	s.mu.Unlock()
	srv.goTracked(func() { s.writeLoop(link) })
	signal(link.notify)

	defer s.stopWebSocket(link)
	s.open(srv.handler)
	srv.register(s)
	s.readLoop(link)
}

// upgradeWebSocket lets conn probe polling session s and, when the client
// confirms, carry it from then on.
func (srv *Server) upgradeWebSocket(s *session, conn *fws.Conn) {
	if s == nil {
		_ = conn.Close()
		return
	}
	s.mu.Lock()
	if s.state() != stateOpen || s.transport != TransportPolling || s.upgrading {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.upgrading = true
	s.probe = conn
	s.mu.Unlock()

	link := srv.probe(s, conn)
	if link == nil {
		s.mu.Lock()
		if s.probe == conn {
			s.probe = nil
		}
		s.upgrading = false
		s.probed = false
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	srv.goTracked(func() { s.writeLoop(link) })
	signal(link.notify)
	defer s.stopWebSocket(link)
	s.readLoop(link)
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
			s.mu.Lock()
			s.probed = true
			if s.poll != nil {
				// Release the pending GET so that the client can pause polling.
				signal(s.poll)
			}
			s.mu.Unlock()
		case p.typ == packetUpgrade:
			link := newLink(conn)
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.state() != stateOpen || s.probe != conn {
				return nil
			}
			s.transport = TransportWebSocket
			s.upgrading = false
			s.probed = false
			s.probe = nil
			s.ws = link
			if s.poll != nil {
				// The last GET gets a noop; the queue goes out on the WebSocket.
				signal(s.poll)
			}
			srv.log.Debug("engineio session upgraded", "sid", s.id)
			return link
		default:
			return nil
		}
	}
}

// stopWebSocket ends a session whose reader returned (or panicked): it
// makes sure the session is closing, waits for the writer and finishes.
func (s *session) stopWebSocket(link *wsLink) {
	s.closeWith("transport error", closeByPeer)
	<-link.writerDone
	s.finish()
}

// readLoop hands the client's packets to the session until the connection
// fails or the session ends.
func (s *session) readLoop(link *wsLink) {
	conn := link.conn
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			s.closeOnReadError(err)
			return
		}
		buf := s.srv.buffers.get()
		buf.B, err = readAppend(buf.B[:0], r)
		if err != nil {
			s.srv.buffers.put(buf)
			s.closeOnReadError(err)
			return
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
		if !keepReading {
			return
		}
	}
}

// closeOnReadError closes the session after the connection failed: a
// message over MaxPayload is a transport error (the client still gets the
// close packet), anything else means the client went away.
func (s *session) closeOnReadError(err error) {
	if errors.Is(err, fws.ErrReadLimit) {
		s.closeWith("transport error", closeAbort)
		return
	}
	s.closeWith("transport close", closeByPeer)
}

// readAppend reads r to its end, appending to dst.
func readAppend(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// writeLoop writes the session's queue to the WebSocket whenever woken,
// and the close packet and close frame when the session closes.
func (s *session) writeLoop(link *wsLink) {
	defer close(link.writerDone)
	conn := link.conn
	var spare []packet
	for range link.notify {
		s.mu.Lock()
		batch := s.queue
		s.queue = spare[:0]
		s.queuedMessages = 0
		st, mode := s.state(), s.mode
		s.mu.Unlock()

		if st != stateOpen && mode == closeByPeer {
			_ = conn.Close()
			return
		}
		deadline := s.srv.opts.Now().Add(s.srv.writeTimeout())
		_ = conn.SetWriteDeadline(deadline)
		for _, p := range batch {
			if err := writeFrame(conn, p); err != nil {
				s.closeWith("transport error", closeByPeer)
				_ = conn.Close()
				return
			}
		}
		clear(batch)
		spare = batch
		if st != stateOpen {
			_ = writeFrame(conn, packet{typ: packetClose})
			_ = conn.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, ""), deadline)
			_ = conn.Close()
			return
		}
	}
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
