package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Names of the limits in logs and in LimitRefusals, beside those of the
// Engine.IO server ("max_connections", "max_connections_per_ip",
// "shutting_down") and of the Socket.IO server (socketio.Limit*).
const (
	limitHandshakeTimeout = "handshake_timeout"
	limitFlood            = "flood"
	limitFloodDisconnect  = "flood_disconnect"
	limitDraining         = "draining"
)

// refusalLogInterval spaces the log lines of one limit: a burst of
// refusals gives one line, then one line per interval with the count.
const refusalLogInterval = 10 * time.Second

// refusalLog counts refusals by limit and logs them without flooding the
// log: the first refusal of a limit is logged at once, later ones at most
// once per refusalLogInterval with how many there were since.
type refusalLog struct {
	logger *slog.Logger
	now    func() time.Time
	// recent keeps the last refusals for the operator's view; nil when it
	// is not served.
	recent *admin.Ring

	mu      sync.Mutex
	byLimit map[string]*refusalCount
}

type refusalCount struct {
	total    uint64
	unlogged uint64
	logged   time.Time
}

func newRefusalLog(logger *slog.Logger) *refusalLog {
	return &refusalLog{logger: logger, now: time.Now, byLimit: make(map[string]*refusalCount)}
}

// refused counts one refusal by limit; attrs describe it (address,
// namespace) in the log line it may give.
func (l *refusalLog) refused(limit string, attrs ...any) {
	l.keepLimitRefusal(limit, attrs)
	now := l.now()
	l.mu.Lock()
	c := l.byLimit[limit]
	if c == nil {
		c = &refusalCount{}
		l.byLimit[limit] = c
	}
	c.total++
	c.unlogged++
	if !c.logged.IsZero() && now.Sub(c.logged) < refusalLogInterval {
		l.mu.Unlock()
		return
	}
	count, since := c.unlogged, c.logged
	c.unlogged, c.logged = 0, now
	l.mu.Unlock()

	args := append([]any{"limit", limit, "refused", count}, attrs...)
	if !since.IsZero() {
		args = append(args, "since", since.Format(time.RFC3339))
	}
	l.logger.Warn("limit reached", args...)
}

// sessionRefused is the Engine.IO server's Options.Refused.
func (l *refusalLog) sessionRefused(reason, remoteIP string) {
	l.refused(reason, "ip", remoteIP)
}

// socketRefused is the Socket.IO server's Options.Refused.
func (l *refusalLog) socketRefused(limit string) { l.refused(limit) }

// totals copies the counts by limit.
func (l *refusalLog) totals() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.byLimit))
	for limit, c := range l.byLimit {
		out[limit] = c.total
	}
	return out
}

// LimitRefusals counts, by limit name, what the gateway refused since it
// started: "max_connections", "max_connections_per_ip", "shutting_down"
// (handshakes), "handshake_timeout" (requests cut off), "connect_timeout",
// "max_namespaces_per_session", "max_rooms_per_socket", "flood",
// "flood_disconnect", "draining" (events refused during shutdown),
// "max_payload" (binary packets, request bodies and WebSocket messages over
// it), "body_timeout", "max_tcp_connections_per_ip", "message_timeout",
// "allowed_origins" (requests from an origin not allowed),
// "binary_packet_timeout", "max_queued_bytes_per_socket" and
// "max_queued_events_per_socket". It is safe to call from a metrics scrape.
func (gw *Gateway) LimitRefusals() map[string]uint64 {
	return maps.Clone(gw.refusals.totals())
}

// socketLimits is what the Socket.IO server enforces of server.limits and
// of server.max_payload, which bounds a binary packet as a whole.
func socketLimits(l gatewayconfig.Limits, maxPayload gatewayconfig.Size) socketio.Limits {
	return socketio.Limits{
		ConnectTimeout:          l.ConnectTimeout.D(),
		MaxNamespacesPerSession: l.MaxNamespacesPerSession,
		MaxRoomsPerSocket:       l.MaxRoomsPerSocket,
		MaxPacketBytes:          int64(maxPayload),
		BinaryPacketTimeout:     l.BinaryPacketTimeout.D(),
		MaxQueuedBytes:          int64(l.MaxQueuedBytesPerSocket),
	}
}

// applyLimits hands a reloaded server.limits to the servers; the flood
// policy is read from the state at each event.
func (gw *Gateway) applyLimits(l gatewayconfig.Limits) {
	gw.engine.SetSessionLimits(l.MaxConnections, l.MaxConnectionsPerIP)
	gw.tcpConns.setLimit(l.MaxTCPConnectionsPerIP)
	// max_payload keeps its running value until a restart.
	gw.sockets.SetLimits(socketLimits(l, gw.cfg.Server.MaxPayload))
}

// limitHandshakes gives every HTTP request server.limits.handshake_timeout
// to send its headers, so that a client sending them slowly (slowloris)
// cannot hold a connection; once the headers are in, the body gets
// server.limits.body_timeout (read by readBody), whatever a long-polling
// GET may be held for: nothing is read while it is.
func (gw *Gateway) limitHandshakes(app *fiber.App) {
	server := app.Server()
	server.ReadTimeout = gw.cfg.Server.Limits.HandshakeTimeout.D()
	server.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{ReadTimeout: gw.state().cfg.Server.Limits.BodyTimeout.D()}
	}
	handleError := server.ErrorHandler
	server.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		// A connection cut before its first byte was counted by its
		// listener already.
		if first, ok := ctx.Conn().(*firstReadConn); isTimeout(err) && (!ok || first.started.Load()) {
			gw.refusals.refused(limitHandshakeTimeout, "ip", ctx.RemoteIP().String())
		}
		handleError(ctx, err)
	}
}

// limitFirstRead gives each accepted connection handshake_timeout to send
// its first byte (a TLS handshake included): the HTTP server bounds the
// headers from the first byte on, but a connection that sends nothing at
// all would otherwise be kept. It also counts the connections of each
// client address against max_tcp_connections_per_ip from the moment they
// are accepted, before any request or TLS handshake: fasthttp's
// MaxConnsPerIP would do that too, but its refusals reach neither the
// limits metric nor the gateway's log, it cannot be changed by a reload,
// and its wrapper hides engineio.WrapListener's connection from the
// WebSocket it carries.
func (gw *Gateway) limitFirstRead(ln net.Listener) net.Listener {
	return &firstReadListener{Listener: ln, timeout: gw.cfg.Server.Limits.HandshakeTimeout.D(), refusals: gw.refusals,
		perIP: gw.tcpConns, plainHTTP: gw.tls == nil}
}

// firstReadListener sets a read deadline on each connection it accepts and
// refuses those over the per-address limit.
type firstReadListener struct {
	net.Listener
	timeout  time.Duration
	refusals *refusalLog
	perIP    *tcpConnsPerIP
	// plainHTTP is set when no TLS is spoken above: a refused connection
	// can then be told why.
	plainHTTP bool
}

// Accept implements net.Listener.
func (l *firstReadListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteHost(conn.RemoteAddr())
		if !l.perIP.acquire(ip) {
			l.refusals.refused(limitTCPConnsPerIP, "ip", ip)
			refuseConn(conn, l.plainHTTP)
			continue
		}
		_ = conn.SetReadDeadline(time.Now().Add(l.timeout))
		return &firstReadConn{Conn: conn, listener: l}, nil
	}
}

// firstReadConn counts a connection that timed out before sending
// anything; the HTTP server moves its deadline once bytes come. Closing it
// gives its place back to its address, once however often it is closed.
// It is kept for the connection's life (an HTTP connection's, a TLS
// WebSocket's), so it holds 32 bytes: its listener rather than the
// listener's parts, and no address, which its connection keeps already.
// A plain WebSocket lets it go: the Engine.IO poller takes its socket
// (DetachSocket).
type firstReadConn struct {
	net.Conn
	listener *firstReadListener
	started  atomic.Bool
	closed   atomic.Bool
}

// NetConn returns the wrapped connection.
func (c *firstReadConn) NetConn() net.Conn { return c.Conn }

// Close implements net.Conn.
func (c *firstReadConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.listener.perIP.release(remoteHost(c.RemoteAddr()))
	return c.Conn.Close()
}

// DetachSocket hands the connection's place under its address's limit to
// whoever takes the socket from under this wrapper (the Engine.IO poller,
// for a WebSocket: see engineio's fdConn), which closes the socket itself
// and calls release then, once; this wrapper is not kept, and its Close
// does nothing from then on. The release is the address's entry's, shared
// by its connections, so that nothing is made per connection for it. It
// returns nil when the wrapper was closed already.
func (c *firstReadConn) DetachSocket() (release func()) {
	if c.closed.Swap(true) {
		return nil
	}
	return c.listener.perIP.releaser(remoteHost(c.RemoteAddr()))
}

// Read implements net.Conn.
func (c *firstReadConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.started.Load() {
			c.started.Store(true)
		}
	} else if err != nil && !c.started.Load() && isTimeout(err) {
		c.started.Store(true) // count it once
		c.listener.refusals.refused(limitHandshakeTimeout, "ip", remoteHost(c.RemoteAddr()))
	}
	return n, err
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func remoteHost(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// floodBucket is one socket's share of server.limits.flood. Events of one
// socket reach the gateway one at a time, but the bucket is locked anyway:
// reading it must never race with a reload replacing it.
type floodBucket struct {
	mu      sync.Mutex
	policy  gatewayconfig.Flood
	limiter *rate.Limiter
	inARow  int // refusals since the last accepted event
}

// checkFlood takes one event from the socket's bucket. It refuses with
// rate_limited and retry_after_ms when the bucket is empty, and reports
// whether the socket has been refused flood.disconnect_after times in a row.
func (gw *Gateway) checkFlood(s *socketio.Socket, policy gatewayconfig.Flood) (err error, disconnect bool) {
	if policy.Rate <= 0 {
		return nil, false
	}
	b := loadOrCreate(&stateOf(s).flood)
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limiter == nil || b.policy != policy {
		// A reload changed the policy: the socket starts afresh under it.
		b.policy = policy
		b.limiter = rate.NewLimiter(rate.Limit(policy.Rate/policy.Per.D().Seconds()), policy.Burst)
		b.inARow = 0
	}
	reservation := b.limiter.ReserveN(now, 1)
	wait := reservation.DelayFrom(now)
	if reservation.OK() && wait == 0 {
		b.inARow = 0
		return nil, false
	}
	reservation.CancelAt(now)
	if !reservation.OK() {
		wait = policy.Per.D()
	}
	b.inARow++
	ms := int((wait + time.Millisecond - 1) / time.Millisecond)
	err = &gatehouse.Error{
		Code:    gatehouse.CodeRateLimited,
		Message: fmt.Sprintf("too many events on this connection; retry in %d ms", ms),
		Data:    map[string]any{"retry_after_ms": ms, "limit": limitFlood},
	}
	return err, policy.DisconnectAfter > 0 && b.inARow >= policy.DisconnectAfter
}

// errDraining refuses events and CONNECTs once the gateway is shutting
// down: they were not run, so the client may send them again elsewhere.
var errDraining = gatehouse.Errorf(gatehouse.CodeUnavailable, "the server is shutting down; reconnect and retry")

// admitEvent decides whether an event is run: it is refused while the
// gateway drains and when the socket floods, in which case it is answered
// here and admitEvent returns false. An admitted event counts as in flight
// until the caller calls gw.inFlight.done, so that Shutdown waits for it
// (a bool rather than a release func: a method value would be allocated
// for every event).
func (gw *Gateway) admitEvent(s *socketio.Socket, event string, ack socketio.AckFunc) (admitted bool) {
	// Counted before the closing check: Shutdown sets closing first and
	// then waits, so an event is either refused or waited for.
	gw.inFlight.add()
	if gw.closing.Load() {
		gw.inFlight.done()
		gw.refusals.refused(limitDraining, "namespace", s.Namespace())
		gw.answer(s, event, ack, nil, errDraining)
		return false
	}
	err, disconnect := gw.checkFlood(s, gw.state().cfg.Server.Limits.Flood)
	if err == nil {
		return true
	}
	gw.inFlight.done()
	limit := limitFlood
	if disconnect {
		limit = limitFloodDisconnect
	}
	gw.refusals.refused(limit, "namespace", s.Namespace(), "ip", s.RemoteIP())
	gw.answer(s, event, ack, nil, err)
	if disconnect {
		// After the refusal, so that the client reads why.
		s.Disconnect("flood")
	}
	return false
}

// admitConnect refuses namespace CONNECTs once the gateway drains.
func (gw *Gateway) admitConnect() error {
	if gw.closing.Load() {
		gw.refusals.refused(limitDraining)
		return errDraining
	}
	return nil
}
