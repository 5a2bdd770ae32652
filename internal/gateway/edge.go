package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
)

// Names of the edge limits in logs and in LimitRefusals: the keys of the
// config that set them.
const (
	limitMaxPayload     = "max_payload"
	limitBodyTimeout    = "body_timeout"
	limitTCPConnsPerIP  = "max_tcp_connections_per_ip"
	limitAllowedOrigins = "allowed_origins"
)

// prefetchedBody is how many bytes of a body fasthttp reads before any
// handler runs (Fiber's BodyLimit, fasthttp's MaxRequestBodySize). With
// StreamRequestBody fasthttp never refuses a body by its size: the limit
// only sets how much it reads, into a buffer of that size, before handing
// the request over. One byte keeps that buffer and that wait negligible;
// readBody reads the rest as it arrives.
const prefetchedBody = 1

// bodyChunk is the least readBody grows a body buffer by.
const bodyChunk = 16 << 10

// readBody is the first handler of every route: it reads the request body
// from the connection as it arrives, into a buffer that grows with what
// came (never sized from Content-Length), refuses a body over
// server.max_payload as soon as that is known (413 payload_too_large, at
// once when Content-Length says so) and one that does not arrive within
// server.limits.body_timeout (408). The handlers after it find the body
// in the request as usual.
func (gw *Gateway) readBody(c *fiber.Ctx) error {
	req := c.Request()
	stream := req.BodyStream()
	if stream == nil {
		return c.Next()
	}
	limit := int(gw.cfg.Server.MaxPayload)
	if declared := req.Header.ContentLength(); declared > limit {
		return gw.refuseBody(c, limitMaxPayload, fiber.StatusRequestEntityTooLarge, gatehouse.CodePayloadTooLarge,
			fmt.Sprintf("the request body is over %d bytes (server.max_payload)", limit))
	}
	body, err := readLimited(stream, limit, req.Header.ContentLength())
	switch {
	case errors.Is(err, errBodyTooLarge):
		return gw.refuseBody(c, limitMaxPayload, fiber.StatusRequestEntityTooLarge, gatehouse.CodePayloadTooLarge,
			fmt.Sprintf("the request body is over %d bytes (server.max_payload)", limit))
	case isTimeout(err):
		return gw.refuseBody(c, limitBodyTimeout, fiber.StatusRequestTimeout, gatehouse.CodeInvalidPayload,
			"the request body did not arrive within server.limits.body_timeout")
	case err != nil:
		// The client went away or broke its chunked encoding: not a
		// limit, and most likely nobody reads the answer.
		c.Context().SetConnectionClose()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"code": gatehouse.CodeInvalidPayload,
			"message": "the request body could not be read: " + err.Error()})
	}
	// The stream is at its end; the request now holds the body itself.
	req.SetBodyRaw(body)
	return c.Next()
}

// errBodyTooLarge is readLimited's answer to a body over its limit.
var errBodyTooLarge = errors.New("request body over the limit")

// readLimited reads r to its end, at most limit bytes. The body is
// gathered in pieces of bodyChunk bytes at most (never more than
// Content-Length declares), put together once it is complete, so that an
// unfinished body holds about what came and its reading leaves no garbage.
func readLimited(r io.Reader, limit, declared int) ([]byte, error) {
	most := limit + 1 // one more, to see a body that goes past the limit
	if declared >= 0 && declared < most {
		most = declared
	}
	var chunks [][]byte
	size := 0
	for size < most {
		chunk, err := fill(r, make([]byte, 0, min(bodyChunk, most-size)))
		chunks = append(chunks, chunk)
		size += len(chunk)
		switch {
		case size > limit:
			return nil, errBodyTooLarge
		case errors.Is(err, io.EOF):
			return join(chunks, size), nil
		case err != nil:
			return nil, err
		}
	}
	// Content-Length bytes are in: one more read sees the end, or a body
	// longer than declared.
	var probe [1]byte
	if n, err := r.Read(probe[:]); n > 0 {
		return nil, errBodyTooLarge
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return join(chunks, size), nil
}

// fill reads r into buf until buf is full, r ends or fails.
func fill(r io.Reader, buf []byte) ([]byte, error) {
	for len(buf) < cap(buf) {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// join puts the pieces of a body together; one piece is the body itself.
func join(chunks [][]byte, size int) []byte {
	if len(chunks) == 1 {
		return chunks[0]
	}
	out := make([]byte, 0, size)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

// refuseBody answers a request whose body is refused with the API's JSON
// error and closes the connection: what is left of the body is never read.
func (gw *Gateway) refuseBody(c *fiber.Ctx, limit string, status int, code gatehouse.Code, message string) error {
	gw.refusals.refused(limit, "ip", c.IP(), "path", c.Path())
	c.Context().SetConnectionClose()
	return c.Status(status).JSON(fiber.Map{"code": code, "message": message})
}

// tcpConnsPerIP counts the open TCP connections of each client address
// against server.limits.max_tcp_connections_per_ip.
type tcpConnsPerIP struct {
	limit atomic.Int64 // 0: no limit; a reload changes it

	mu   sync.Mutex
	open map[string]*ipConns
}

// ipConns is the entry of an address with connections open: their count,
// and the release that gives one of their places back, made with the entry
// so that a connection handing its place to whoever takes its socket
// (firstReadConn.DetachSocket) needs nothing of its own for it.
type ipConns struct {
	n       int // guarded by tcpConnsPerIP.mu
	release func()
}

func newTCPConnsPerIP(limit int) *tcpConnsPerIP {
	t := &tcpConnsPerIP{open: make(map[string]*ipConns)}
	t.setLimit(limit)
	return t
}

func (t *tcpConnsPerIP) setLimit(limit int) { t.limit.Store(int64(max(limit, 0))) }

// acquire counts one more connection of ip, or reports false when ip has
// the limit already.
func (t *tcpConnsPerIP) acquire(ip string) bool {
	limit := t.limit.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.open[ip]
	if e == nil {
		e = &ipConns{}
		e.release = func() { t.releaseEntry(ip, e) }
		t.open[ip] = e
	} else if limit > 0 && int64(e.n) >= limit {
		return false
	}
	e.n++
	return true
}

// release counts one connection of ip less; the entry goes with the last,
// so that the map holds only addresses with connections open.
func (t *tcpConnsPerIP) release(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.open[ip]; e != nil {
		t.releaseLocked(ip, e)
	}
}

// releaser returns the release of one of ip's places, to be called once
// for a connection that acquired one and has not given it back; nil when
// ip has none.
func (t *tcpConnsPerIP) releaser(ip string) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.open[ip]; e != nil {
		return e.release
	}
	return nil
}

// releaseEntry gives back one place of e, ip's entry.
func (t *tcpConnsPerIP) releaseEntry(ip string, e *ipConns) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseLocked(ip, e)
}

// releaseLocked is releaseEntry with t.mu held.
func (t *tcpConnsPerIP) releaseLocked(ip string, e *ipConns) {
	if e.n > 0 {
		e.n--
	}
	if e.n == 0 && t.open[ip] == e {
		delete(t.open, ip)
	}
}

// tooManyConnections is what a connection over the per-address limit reads
// before it is closed, when the listener speaks plain HTTP: a complete
// answer, since the request was not read.
var tooManyConnections = func() []byte {
	body, _ := json.Marshal(map[string]string{
		"code":    string(gatehouse.CodeRateLimited),
		"message": "too many connections from this address (server.limits.max_tcp_connections_per_ip)",
	})
	return fmt.Appendf(nil, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}()

// refuseConnWriteTimeout bounds the 429 written to a refused connection;
// a fresh connection's send buffer takes it at once.
const refuseConnWriteTimeout = 100 * time.Millisecond

// refuseConn closes a connection over the per-address limit, after the
// 429 answer when the listener speaks plain HTTP (under TLS the handshake
// has not happened, and the client is only closed).
func refuseConn(conn net.Conn, plainHTTP bool) {
	if plainHTTP {
		_ = conn.SetWriteDeadline(time.Now().Add(refuseConnWriteTimeout))
		_, _ = conn.Write(tooManyConnections)
	}
	_ = conn.Close()
}

// originRefused is the Engine.IO server's Options.RefusedOrigin: counted
// under one limit name, whatever the origin, so that the metric's labels
// stay few; the log line says which origin and path.
func (l *refusalLog) originRefused(origin, path, remoteIP string) {
	l.refused(limitAllowedOrigins, "origin", origin, "path", path, "ip", remoteIP)
}
