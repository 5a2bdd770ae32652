package engineio

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// upgradePollInterval is the tick on which a pending GET is answered with
// a noop while a WebSocket that answered the probe ping waits for the
// upgrade packet, so that the client can pause polling and send it (the
// reference server's check interval).
const upgradePollInterval = 100 * time.Millisecond

// handlePoll answers a long-polling GET with the queued packets, blocking
// until there are some. The ping every PingInterval guarantees that a GET
// is answered in time; session close, upgrade and shutdown release it. A
// GET still pending when the session switches to its WebSocket is refused
// like one that arrives after the switch.
func (srv *Server) handlePoll(c *fiber.Ctx, s *session) error {
	s.mu.Lock()
	if s.poll != nil {
		// Two GETs at once: the client is broken or hostile. Like the
		// reference server, close the session (the first GET gets the
		// close packet) and refuse this one.
		s.mu.Unlock()
		s.closeWith("transport error", closeAbort)
		return answerEmpty(c, http.StatusBadRequest)
	}
	if !s.servesPollingLocked() {
		s.mu.Unlock()
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	// A safety net only: the heartbeat answers the GET sooner.
	arrived := time.Now()
	deadline := arrived.Add(srv.opts.PingInterval + srv.opts.PingTimeout)
	if s.mustWaitLocked() {
		wake := make(chan struct{}, 1)
		s.poll = wake
		for s.mustWaitLocked() {
			wait := time.Until(s.pollDeadlineLocked(arrived, deadline))
			if wait <= 0 {
				break
			}
			s.mu.Unlock()
			timeout := time.NewTimer(wait)
			select {
			case <-wake:
			case <-timeout.C:
			}
			timeout.Stop()
			s.mu.Lock()
		}
		if s.poll == wake {
			s.poll = nil
		}
	}
	if !s.servesPollingLocked() {
		s.mu.Unlock()
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	packets, finished := s.takePollLocked()
	s.mu.Unlock()

	srv.writePayload(c, packets)
	if finished {
		s.finish()
	}
	return nil
}

// mustWaitLocked reports whether a GET has nothing to answer yet: the
// session is open, carried by polling, and nothing is queued.
func (s *session) mustWaitLocked() bool {
	return len(s.queue) == 0 && s.state() == stateOpen && s.phase != phaseWebSocket
}

// pollDeadlineLocked is when a GET that arrived at arrived is answered
// with a noop: at deadline, or once a probe was answered on the first
// upgrade tick after both.
func (s *session) pollDeadlineLocked(arrived, deadline time.Time) time.Time {
	if s.phase != phaseProbing || s.transit == nil || s.transit.answered.IsZero() {
		return deadline
	}
	answered := s.transit.answered
	ticks := max(arrived.Sub(answered), 0)/upgradePollInterval + 1
	if tick := answered.Add(ticks * upgradePollInterval); tick.Before(deadline) {
		return tick
	}
	return deadline
}

// takePollLocked takes what a GET answers: the queue, followed by the close
// packet when the session is closing, or a noop when there is nothing (a
// released GET must still be answered). A session that the client closed
// answers a noop, as the reference server does. finished reports that the
// session is done with polling.
func (s *session) takePollLocked() (packets []packet, finished bool) {
	packets = s.queue
	s.queue = nil
	s.queuedMessages = 0
	switch {
	case s.state() != stateOpen && s.mode == closeByPeer:
		return append(packets[:0], packet{typ: packetNoop}), true
	case s.state() != stateOpen:
		return append(packets, packet{typ: packetClose}), true
	case len(packets) == 0:
		return append(packets, packet{typ: packetNoop}), false
	}
	return packets, false
}

// writePayload answers a GET with packets as one polling payload.
func (srv *Server) writePayload(c *fiber.Ctx, packets []packet) {
	buf := srv.buffers.get()
	buf.B = appendPayload(buf.B[:0], packets)
	c.Set(fiber.HeaderContentType, contentTypePayload)
	// SetBody copies, so the buffer can go back to the pool.
	c.Response().SetBody(buf.B)
	srv.buffers.put(buf)
}

// handleData processes a polling POST: a payload of packets from the
// client, handed to the listener before the POST is answered. As the
// reference server (transports/polling.ts onDataRequest), every POST it
// reads to its end is answered 200 "ok", even one whose packets end the
// session.
func (srv *Server) handleData(c *fiber.Ctx, s *session) error {
	// The raw body: Engine.IO clients never compress it, and decoding a
	// Content-Encoding here would bypass the MaxPayload check.
	body := c.Request().Body()
	if int64(len(body)) > srv.opts.MaxPayload {
		// The reference server answers an empty 413 and drops the body,
		// but leaves the session open: the client may go on. Behind the
		// gateway a body over max_payload never gets here, as the edge
		// refuses it unread (413 payload_too_large) and leaves the
		// session alone too.
		return answerEmpty(c, http.StatusRequestEntityTooLarge)
	}
	if string(c.Request().Header.ContentType()) == fiber.MIMEOctetStream {
		// Engine.IO v4 sends binary as base64 records inside text payloads.
		s.closeWith("transport error", closeAbort)
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}

	s.mu.Lock()
	if s.posting {
		// Two POSTs at once: closed and refused as two GETs are.
		s.mu.Unlock()
		s.closeWith("transport error", closeAbort)
		return answerEmpty(c, http.StatusBadRequest)
	}
	s.posting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
	}()

	err := decodePayload(body, func(p packet) error {
		if !s.receive(p) {
			return errStopPayload
		}
		return nil
	})
	if err != nil && err != errStopPayload {
		// The packets before the invalid one were delivered; the session
		// closes and its sid is unknown from now on (socket.ts onPacket
		// "error" -> onClose("parse error")), yet the POST is answered
		// "ok" like any other.
		s.closeWith("parse error", closeAbort)
	}
	c.Set(fiber.HeaderContentType, contentTypeDataAck)
	return c.SendString("ok")
}

// answerEmpty answers status with an empty body, as the reference server
// refuses an overlapping or oversized polling request (Fiber's SendStatus
// would add the status text). The official client reads only the status
// of a failed request.
func answerEmpty(c *fiber.Ctx, status int) error {
	c.Status(status)
	c.Response().ResetBody()
	return nil
}
