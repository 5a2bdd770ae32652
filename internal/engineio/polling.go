package engineio

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// upgradePollInterval is how long a GET waits while an upgrade is probed.
const upgradePollInterval = 100 * time.Millisecond

// handlePoll answers a long-polling GET with the queued packets, blocking
// until there are some. The ping every PingInterval guarantees that a GET
// is answered in time; session close, upgrade and shutdown release it.
func (srv *Server) handlePoll(c *fiber.Ctx, s *session) error {
	s.mu.Lock()
	if s.poll != nil {
		// Two GETs at once: the client is broken or hostile. Like the
		// reference server, close the session (the first GET gets the
		// close packet) and refuse this one.
		s.mu.Unlock()
		s.closeWith("transport error", closeAbort)
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	if len(s.queue) == 0 && s.state() == stateOpen && s.transport == TransportPolling {
		wake := make(chan struct{}, 1)
		s.poll = wake
		// A safety net only: the heartbeat answers the GET sooner. While a
		// WebSocket probes the session, GETs are answered quickly (as the
		// reference server does every 100ms) so the client can pause polling
		// and complete the upgrade.
		wait := srv.opts.PingInterval + srv.opts.PingTimeout
		if s.probed {
			wait = upgradePollInterval
		}
		s.mu.Unlock()
		timeout := time.NewTimer(wait)
		select {
		case <-wake:
		case <-timeout.C:
		}
		timeout.Stop()
		s.mu.Lock()
		if s.poll == wake {
			s.poll = nil
		}
	}
	packets, finished := s.takePollLocked()
	s.mu.Unlock()

	srv.writePayload(c, packets)
	if finished {
		s.finish()
	}
	return nil
}

// takePollLocked takes what a GET answers: the queue, followed by the close
// packet when the session is closing, or a noop when there is nothing (a
// released GET must still be answered). finished reports that the close
// packet was handed over.
func (s *session) takePollLocked() (packets []packet, finished bool) {
	if s.transport != TransportPolling {
		// Upgraded: the queue belongs to the WebSocket now.
		return []packet{{typ: packetNoop}}, false
	}
	packets = s.queue
	s.queue = nil
	s.queuedMessages = 0
	if s.state() != stateOpen {
		return append(packets, packet{typ: packetClose}), true
	}
	if len(packets) == 0 {
		packets = append(packets, packet{typ: packetNoop})
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
// client, handed to the listener before the POST is answered.
func (srv *Server) handleData(c *fiber.Ctx, s *session) error {
	// The raw body: Engine.IO clients never compress it, and decoding a
	// Content-Encoding here would bypass the MaxPayload check.
	body := c.Request().Body()
	if int64(len(body)) > srv.opts.MaxPayload {
		s.closeWith("transport error", closeAbort)
		return c.SendStatus(http.StatusRequestEntityTooLarge)
	}
	if string(c.Request().Header.ContentType()) == fiber.MIMEOctetStream {
		// Engine.IO v4 sends binary as base64 records inside text payloads.
		s.closeWith("transport error", closeAbort)
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}

	s.mu.Lock()
	if s.posting {
		s.mu.Unlock()
		s.closeWith("transport error", closeAbort)
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
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
		s.closeWith("parse error", closeAbort)
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	c.Set(fiber.HeaderContentType, contentTypeDataAck)
	return c.SendString("ok")
}
