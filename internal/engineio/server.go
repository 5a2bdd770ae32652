package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-dev/gatehouse/internal/deadline"
)

// Locals keys under which the HTTP handler hands a WebSocket request over
// to the WebSocket handler, which runs after the connection is hijacked.
const (
	localServe   = "gatehouse.engineio.serve"
	localRequest = "gatehouse.engineio.request"
)

// Content types of the reference server's answers; clients do not parse
// them, but proxies and browsers do.
const (
	contentTypePayload = "text/plain; charset=UTF-8"
	contentTypeDataAck = "text/html"
)

// Server is an Engine.IO v4 server. Mount it on a Fiber router; each new
// session is handed to the Handler.
type Server struct {
	opts    Options
	handler Handler
	log     *slog.Logger
	// wsUpgrade turns a GET into a WebSocket on the hijacked connection
	// (gofiber/contrib/websocket) and runs serveWebSocket on it.
	wsUpgrade fiber.Handler
	// upgrades lists the transports a polling session may upgrade to, as
	// announced in the handshake.
	upgrades []string
	// ownsConns is set by OwnHijackedConns: the HTTP server leaves hijacked
	// connections open, so a WebSocket is served on a goroutine of its own
	// and the upgrade's goroutine, request context and Fiber connection
	// are let go.
	ownsConns bool
	// poll reads the WebSockets of owned connections when the read path
	// is the poller (Options.ReadPath); nil otherwise.
	poll *poller
	// flush writes the queues of polled WebSockets woken from elsewhere
	// than their reader.
	flush *flushPool

	ids *sessionIDs

	mu           sync.Mutex
	sessions     map[string]*session
	shuttingDown bool
	// admitted counts the sessions from their handshake until the server
	// forgets them, in total and by client address, against the limits.
	admitted   int
	admittedBy map[string]int
	// Session limits; 0 means none. Atomic so that a reload can change them.
	maxSessions      atomic.Int64
	maxSessionsPerIP atomic.Int64

	buffers      bufferPool
	openSessions atomic.Int64
	// alive counts unfinished sessions and the goroutines the server
	// started, so that Shutdown can wait for both.
	alive tracker
	// timers runs the sessions' heartbeats and other deadlines, with one
	// runtime timer for all of them.
	timers deadline.Scheduler
}

// NewServer returns a Server with opts (zero fields take the defaults)
// that hands sessions to h.
func NewServer(opts Options, h Handler) *Server {
	opts = opts.withDefaults()
	srv := &Server{
		opts:       opts,
		handler:    h,
		ids:        newSessionIDs(opts.NodeTag),
		log:        opts.Logger,
		sessions:   make(map[string]*session),
		admittedBy: make(map[string]int),
		upgrades:   []string{},
	}
	srv.SetSessionLimits(opts.MaxSessions, opts.MaxSessionsPerIP)
	srv.flush = newFlushPool(&srv.alive, &srv.buffers)
	if opts.ReadPath == ReadPathPoller && pollerSupported {
		srv.poll = newPoller(srv)
	}
	if opts.allowsTransport(TransportPolling) && opts.allowsTransport(TransportWebSocket) {
		srv.upgrades = []string{TransportWebSocket}
	}
	srv.wsUpgrade = websocket.New(srv.serveWebSocket, websocket.Config{
		Origins: websocketOrigins(&opts),
		// Small (see wsReadBufferSize): a payload longer than what is
		// buffered is read straight into the pooled message buffer, and
		// small messages, the common case, still take one read.
		ReadBufferSize:  wsReadBufferSize,
		WriteBufferSize: 4096,
		// A shared pool keeps idle connections from each holding a write
		// buffer.
		WriteBufferPool: &sync.Pool{},
		RecoverHandler:  srv.recoverWebSocket,
	})
	return srv
}

// websocketOrigins is the Origin allow-list given to the WebSocket
// upgrader: any, since it can only compare with a fixed list and a page of
// the gateway's own origin is allowed too; upgrade checks the Origin again,
// a second line of defence behind the CORS check.
func websocketOrigins(*Options) []string { return []string{"*"} }

// wsReadBufferSize is the WebSocket read buffer of each connection. The
// WebSocket library needs room for a control frame (125 bytes); 256 bytes
// also take in about eight small events with one read when a client has
// several in flight, whose acks then leave in one write (see
// WrapListener): a quarter more acks per second at eight in flight, for
// 128 bytes more per idle connection.
const wsReadBufferSize = 256

// releaseRequest lets go of what a hijacked request still holds. fasthttp
// keeps the request's context until the hijack handler returns, that is
// for the WebSocket's whole life, and with it the parsed headers, URI and
// query arguments (about 3 KiB) that nothing reads any more: by then the
// 101 answer is written, the session copied what it keeps (newHandshake),
// and fasthttp touches the context again only to reset it for its pool,
// which works as well on empty ones.
func releaseRequest(ctx *fasthttp.RequestCtx) {
	ctx.Request = fasthttp.Request{}
	ctx.Response = fasthttp.Response{}
}

// upgrade answers the WebSocket handshake; run serves the connection once
// fasthttp has hijacked it, on the goroutine that reads it.
func (srv *Server) upgrade(c *fiber.Ctx, run func(conn *fws.Conn)) error {
	return srv.upgradeKeeping(c, func(conn *fws.Conn) bool {
		run(conn)
		return false
	})
}

// upgradeKeeping is upgrade for a run that may hand the connection over
// (to the poller), reporting true: the connection is then not closed when
// run returns.
func (srv *Server) upgradeKeeping(c *fiber.Ctx, run func(conn *fws.Conn) (kept bool)) error {
	if !srv.originAllowed(c) {
		return srv.refuse(c, http.StatusForbidden, codeForbidden)
	}
	c.Locals(localServe, run)
	if !srv.ownsConns {
		// Only needed to empty a context fasthttp keeps for the
		// connection's life (see releaseRequest).
		c.Locals(localRequest, c.Context())
	}
	return srv.wsUpgrade(c)
}

// OwnHijackedConns makes the Server responsible for closing the
// connections its WebSocket upgrades hijack from hs, which must be the HTTP
// server the Server is mounted on; call it before hs serves. fasthttp then
// stops holding, for each WebSocket's whole life, the upgrade's goroutine,
// its request context (about 0.8 KiB) and the Fiber connection with its
// copies of every header, query parameter and cookie (about 1.5 KiB): the
// WebSocket is read on a goroutine of its own and everything else is
// released when the upgrade returns. Without it the WebSocket is served on
// the upgrade's goroutine, as fasthttp closes the connection when that
// returns.
func (srv *Server) OwnHijackedConns(hs *fasthttp.Server) {
	hs.KeepHijackedConns = true
	srv.ownsConns = true
}

// serveWebSocket runs on the hijacked connection: it lets go of the
// request and hands the connection to what upgrade was given, on a
// goroutine of its own when the Server owns hijacked connections.
func (srv *Server) serveWebSocket(conn *websocket.Conn) {
	run, _ := conn.Locals(localServe).(func(*fws.Conn) bool)
	// Owned, the context goes back to fasthttp's pool, buffers and all,
	// as soon as this returns, and upgrade did not pass it.
	if ctx, ok := conn.Locals(localRequest).(*fasthttp.RequestCtx); ok {
		releaseRequest(ctx)
	}
	ws := conn.Conn
	if run == nil {
		if srv.ownsConns {
			_ = ws.Close()
		}
		return
	}
	ws.SetReadLimit(srv.opts.MaxPayload)
	srv.alive.add()
	if !srv.ownsConns {
		defer srv.alive.done()
		_ = run(ws)
		return
	}
	// Before run reads it: the request's 32 KiB reader is not the
	// WebSocket's to keep (see dropRequestReader).
	dropRequestReader(ws.NetConn())
	go func() {
		defer srv.alive.done()
		kept := false
		// Every way out of run closes the connection, unless the poller
		// took it; closing it again here only makes sure, as fasthttp no
		// longer does.
		defer func() {
			if !kept {
				_ = ws.Close()
			}
		}()
		defer srv.recoverWebSocket(nil)
		kept = run(ws)
	}()
}

// Mount registers the Engine.IO endpoint at path (with and without its
// trailing slash) on r, for every method: GET and POST behind the before
// middleware (the authentication), OPTIONS for CORS preflights, which
// carry no credentials, and any other method refused by handle with the
// protocol's error (a handshake by PUT is a "Bad handshake method", not a
// 405). The Origin check runs ahead of before, so a refused origin is
// answered 403 with CORS headers a browser can read.
func (srv *Server) Mount(r fiber.Router, path string, before ...fiber.Handler) {
	base := strings.TrimSuffix(path, "/")
	chain := make([]fiber.Handler, 0, len(before)+2)
	chain = append(chain, srv.cors)
	chain = append(chain, before...)
	chain = append(chain, srv.handle)
	for _, p := range []string{base + "/", base} {
		if p == "" {
			continue
		}
		r.Options(p, srv.cors)
		r.All(p, chain...)
	}
}

// SessionCount returns the number of open sessions.
func (srv *Server) SessionCount() int {
	return int(srv.openSessions.Load())
}

// SetSessionLimits changes the limits on open sessions, in total and per
// client address (0 means no limit). Sessions already open stay open when
// a limit is lowered below their number; new ones wait for room.
func (srv *Server) SetSessionLimits(total, perIP int) {
	srv.maxSessions.Store(int64(max(total, 0)))
	srv.maxSessionsPerIP.Store(int64(max(perIP, 0)))
}

// StopAccepting refuses every new session from now on (HTTP 503, code
// "unavailable") while the open ones carry on, so that a draining server
// finishes its work before Shutdown closes them.
func (srv *Server) StopAccepting() {
	srv.mu.Lock()
	srv.shuttingDown = true
	srv.mu.Unlock()
}

// Shutdown refuses new sessions, closes every session with the reason
// "server shutting down" (a close packet on its transport) and waits until
// they are finished and their goroutines have returned, or until ctx is
// done, in which case the remaining transports are cut. A polling session
// with no GET pending has no transport to carry the close packet: it is
// finished at once, as the reference server does, so that a client that
// stopped polling does not hold the shutdown until its deadline.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.shuttingDown = true
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()

	for _, s := range sessions {
		s.closeWith("server shutting down", closeDiscard)
	}
	if err := srv.alive.wait(ctx); err != nil {
		for _, s := range sessions {
			s.abandon()
		}
		return fmt.Errorf("engineio shutdown: %w", err)
	}
	// Every session is finished: no deadline is left but those of a
	// firing still returning, which Stop waits for.
	srv.timers.Stop()
	return nil
}

// handle routes one Engine.IO request, verifying it in the reference
// server's order so that the same request gets the same error code.
func (srv *Server) handle(c *fiber.Ctx) error {
	transport := c.Query("transport")
	if !srv.opts.allowsTransport(transport) {
		return srv.refuse(c, http.StatusBadRequest, codeUnknownTransport)
	}
	upgrade := fws.FastHTTPIsWebSocketUpgrade(c.Context())

	if sid := c.Query("sid"); sid != "" {
		s := srv.lookup(sid)
		if s == nil {
			if handled, err := srv.foreign(c, sid, transport, upgrade); handled {
				return err
			}
		}
		if s == nil || s.expireIfOverdue() {
			return srv.refuse(c, http.StatusBadRequest, codeUnknownSID)
		}
		if transport == TransportWebSocket {
			if !upgrade {
				return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
			}
			return srv.upgradeRequest(c, s)
		}
		if !s.servesPolling() {
			// Upgraded: the reference server's transport mismatch.
			return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
		}
		switch c.Method() {
		case fiber.MethodGet:
			return srv.handlePoll(c, s)
		case fiber.MethodPost:
			return srv.handleData(c, s)
		}
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}

	if c.Method() != fiber.MethodGet {
		return srv.refuse(c, http.StatusBadRequest, codeBadHandshakeMethod)
	}
	if transport == TransportWebSocket && !upgrade {
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	if c.Query("EIO") != "4" {
		return srv.refuse(c, http.StatusBadRequest, codeUnsupportedProtocolVersion)
	}
	hs := newHandshake(c)
	if transport == TransportWebSocket {
		// Answered before the upgrade, so that a refused client gets a
		// status it can read; newSession checks again, for good.
		if refusal := srv.admission(hs.RemoteIP); refusal != nil {
			return srv.refuseSession(c, refusal, hs.RemoteIP)
		}
		return srv.upgradeKeeping(c, func(conn *fws.Conn) bool { return srv.openWebSocket(hs, conn) })
	}
	return srv.handshakePolling(c, hs)
}

// upgradeRequest accepts a WebSocket for a known session. The session
// decides atomically whether it may probe (reserveProbe); one that may
// not, because another one probes the session or it was upgraded, is
// accepted and then closed, as the reference server does.
func (srv *Server) upgradeRequest(c *fiber.Ctx, s *session) error {
	res := s.reserveProbe(srv.opts.UpgradeTimeout)
	err := srv.upgradeKeeping(c, func(conn *fws.Conn) bool { return srv.upgradeWebSocket(s, res, conn) })
	if err != nil && res != nil {
		s.endProbe(res, nil)
	}
	return err
}

// handshakePolling opens a polling session and answers its open packet.
func (srv *Server) handshakePolling(c *fiber.Ctx, hs *Handshake) error {
	s, err := srv.newSession(hs, TransportPolling)
	if refusal, ok := err.(*sessionRefusal); ok {
		return srv.refuseSession(c, refusal, hs.RemoteIP)
	}
	if err != nil {
		return srv.refuse(c, http.StatusServiceUnavailable, codeBadRequest)
	}
	body := srv.openPacket(s.id, srv.upgrades)
	s.open(srv.handler)
	srv.register(s)
	c.Set(fiber.HeaderContentType, contentTypePayload)
	return c.Send(body)
}

// openPacket encodes the handshake packet of session sid. It is built by
// hand: every part is either a number or a string of URL-safe characters.
func (srv *Server) openPacket(sid string, upgrades []string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, byte(packetOpen))
	b = append(b, `{"sid":"`...)
	b = append(b, sid...)
	b = append(b, `","upgrades":[`...)
	for i, u := range upgrades {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, u)
	}
	b = append(b, `],"pingInterval":`...)
	b = strconv.AppendInt(b, srv.opts.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, srv.opts.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, srv.opts.MaxPayload, 10)
	return append(b, '}')
}

// protocolError is the JSON body of a refused request.
type protocolError struct {
	Code    errorCode `json:"code"`
	Message string    `json:"message"`
}

// refuse answers status with the reference server's JSON error body.
func (srv *Server) refuse(c *fiber.Ctx, status int, code errorCode) error {
	return c.Status(status).JSON(protocolError{Code: code, Message: code.message()})
}

// newHandshake copies what the session keeps of the request, since fasthttp
// reuses the request's buffers once the handler returns: the headers and
// the query as one string each, the only allocations an idle session
// keeps for them.
func newHandshake(c *fiber.Ctx) *Handshake {
	req := c.Request()
	var line [512]byte
	b := line[:0]
	req.Header.VisitAll(func(key, value []byte) {
		b = appendHeaderLine(b, key, value)
	})
	return &Handshake{
		Header:   Header(b),
		Query:    Query(req.URI().QueryString()),
		RemoteIP: remoteIP(c),
		Local:    c.Locals(HandshakeLocal),
	}
}

// remoteIP is c.IP() as a string the session can keep. Without a proxy
// header Fiber formats the connection's address into a string of its own,
// which is kept as it is; with one it may be the header's bytes, which
// fasthttp reuses, and is copied.
func remoteIP(c *fiber.Ctx) string {
	if c.App().Config().ProxyHeader == "" {
		return c.IP()
	}
	return strings.Clone(c.IP())
}

// newSession creates a session that is not yet reachable by its sid, or
// refuses it with a *sessionRefusal when the server does not take it.
func (srv *Server) newSession(hs *Handshake, transport string) (*session, error) {
	sid := srv.ids.next()
	srv.mu.Lock()
	if refusal := srv.admissionLocked(hs.RemoteIP); refusal != nil {
		srv.mu.Unlock()
		if transport == TransportWebSocket {
			// A WebSocket already upgraded learns it only from the close
			// frame; the HTTP path reports its own refusals.
			srv.reportRefusal(refusal, hs.RemoteIP)
		}
		return nil, refusal
	}
	srv.admitted++
	srv.admittedBy[hs.RemoteIP]++
	srv.alive.add()
	srv.mu.Unlock()
	s := srv.makeSession(sid, hs, transport == TransportWebSocket)
	if transport == TransportWebSocket {
		s.phase = phaseWebSocket
	}
	return s, nil
}

// sessionRefusal is why a handshake is refused; reason names the limit for
// metrics and logs, message is what the client reads.
type sessionRefusal struct {
	reason  string
	message string
}

func (r *sessionRefusal) Error() string { return "engineio: " + r.message }

// The refusals of new sessions.
var (
	errShuttingDown = &sessionRefusal{reason: "shutting_down", message: "the server is shutting down"}
	errAtCapacity   = &sessionRefusal{reason: "max_connections", message: "the server is at its connection limit"}
	errAddressLimit = &sessionRefusal{reason: "max_connections_per_ip", message: "too many connections from this address"}
)

// admission says whether a session from ip would be refused now, without
// taking a place.
func (srv *Server) admission(ip string) *sessionRefusal {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.admissionLocked(ip)
}

func (srv *Server) admissionLocked(ip string) *sessionRefusal {
	switch total, perIP := srv.maxSessions.Load(), srv.maxSessionsPerIP.Load(); {
	case srv.shuttingDown:
		return errShuttingDown
	case total > 0 && int64(srv.admitted) >= total:
		return errAtCapacity
	case perIP > 0 && int64(srv.admittedBy[ip]) >= perIP:
		return errAddressLimit
	}
	return nil
}

// refuseSession answers a refused handshake: 503 with a JSON body
// {"code": "unavailable", "message"}, which a load balancer may retry on
// another node.
func (srv *Server) refuseSession(c *fiber.Ctx, r *sessionRefusal, ip string) error {
	srv.reportRefusal(r, ip)
	c.Set(fiber.HeaderRetryAfter, "1")
	return c.Status(http.StatusServiceUnavailable).JSON(unavailableError{Code: "unavailable", Message: r.message})
}

func (srv *Server) reportRefusal(r *sessionRefusal, ip string) {
	if srv.opts.Refused != nil {
		srv.opts.Refused(r.reason, ip)
	}
}

// unavailableError is the JSON body of a handshake refused for capacity.
// Its code is a string, unlike the reference server's numeric protocol
// codes, so that the two cannot be confused.
type unavailableError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// register makes s reachable by its sid and starts its heartbeat, unless it
// was closed while the handler opened it. A session that opened while
// Shutdown was taking its snapshot is closed at once.
func (srv *Server) register(s *session) {
	srv.mu.Lock()
	s.mu.Lock()
	if s.state() != stateOpen {
		s.mu.Unlock()
		srv.mu.Unlock()
		return
	}
	srv.sessions[s.id] = s
	s.registered = true
	srv.openSessions.Add(1)
	s.resetHeartbeatLocked(srv.opts.PingInterval)
	shuttingDown := srv.shuttingDown
	transport := s.transportLocked()
	s.mu.Unlock()
	srv.mu.Unlock()
	// Checked first: the arguments, boxed, are two allocations per
	// session even when debug logging is off.
	if srv.log.Enabled(context.Background(), slog.LevelDebug) {
		srv.log.Debug("engineio session opened", "sid", s.id, "transport", transport)
	}
	if shuttingDown {
		s.closeWith("server shutting down", closeDiscard)
	}
}

// unlink makes s unreachable by its sid.
func (srv *Server) unlink(s *session) {
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	srv.mu.Unlock()
}

// forget removes a finished session.
func (srv *Server) forget(s *session) {
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	srv.admitted--
	ip := s.handshake.RemoteIP
	if srv.admittedBy[ip] <= 1 {
		delete(srv.admittedBy, ip)
	} else {
		srv.admittedBy[ip]--
	}
	srv.mu.Unlock()
	srv.alive.done()
}

func (srv *Server) lookup(sid string) *session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[sid]
}

// goTracked runs fn on a goroutine Shutdown waits for.
func (srv *Server) goTracked(fn func()) {
	srv.alive.add()
	go func() {
		defer srv.alive.done()
		fn()
	}()
}

// sessionIDs draws session ids: 15 bytes from a ChaCha8 generator seeded
// from crypto/rand, as 20 characters of base64url, after the node's tag
// when it has one (Options.NodeTag). ChaCha8 is a cryptographically strong
// generator, so ids stay unguessable (a polling request is authorised by
// its sid alone), without a getrandom call on every handshake, which
// showed up in profiles of connection bursts.
type sessionIDs struct {
	tag string
	mu  sync.Mutex
	gen *mathrand.ChaCha8
}

// sessionIDRandom is the length of the random part of a session id.
const sessionIDRandom = 20

func newSessionIDs(tag string) *sessionIDs {
	var seed [32]byte
	// crypto/rand.Read does not fail on supported platforms (it crashes
	// the program rather than return weak bytes).
	_, _ = rand.Read(seed[:])
	return &sessionIDs{tag: tag, gen: mathrand.NewChaCha8(seed)}
}

func (ids *sessionIDs) next() string {
	var raw [15]byte
	ids.mu.Lock()
	_, _ = ids.gen.Read(raw[:])
	ids.mu.Unlock()
	if ids.tag == "" {
		return base64.RawURLEncoding.EncodeToString(raw[:])
	}
	b := make([]byte, len(ids.tag), len(ids.tag)+sessionIDRandom)
	copy(b, ids.tag)
	return string(base64.RawURLEncoding.AppendEncode(b, raw[:]))
}

// foreign reports whether sid has the shape of an id another node made:
// this server has a tag, and sid is as long as its ids but starts with
// another tag.
func (ids *sessionIDs) foreign(sid string) bool {
	return ids.tag != "" && len(sid) == len(ids.tag)+sessionIDRandom && !strings.HasPrefix(sid, ids.tag)
}

// tracker counts running things and lets a caller wait until none is left.
// Unlike sync.WaitGroup it allows adding while someone waits.
type tracker struct {
	mu      sync.Mutex
	running int
	idle    []chan struct{}
}

func (t *tracker) add() {
	t.mu.Lock()
	t.running++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.running--
	if t.running == 0 {
		for _, ch := range t.idle {
			close(ch)
		}
		t.idle = nil
	}
	t.mu.Unlock()
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.running == 0 {
		t.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	t.idle = append(t.idle, ch)
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeTimeout bounds each write so that a dead peer cannot hold a
// goroutine for long.
func (srv *Server) writeTimeout() time.Duration {
	return max(srv.opts.PingTimeout, time.Second)
}

// maxPooledBuffer keeps one large message from pinning its buffer in the
// pool.
const maxPooledBuffer = 64 << 10

// buffer is a reusable byte slice.
type buffer struct{ B []byte }

// bufferPool recycles encoding and reading buffers across sessions, so an
// idle session holds none.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) get() *buffer {
	if b, ok := p.pool.Get().(*buffer); ok {
		return b
	}
	return &buffer{B: make([]byte, 0, 512)}
}

func (p *bufferPool) put(b *buffer) {
	if cap(b.B) > maxPooledBuffer {
		return
	}
	p.pool.Put(b)
}
