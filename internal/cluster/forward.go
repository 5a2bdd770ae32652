package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	// Hold is the longest the owner may hold a request: a pending GET is
	// answered within the ping interval plus the ping timeout; the
	// forwarded request gets that and a margin.
	Hold time.Duration
	// DialTimeout bounds reaching the owner (default 1s): an owner that
	// does not answer by then is taken for gone.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the owner's answer to a forwarded WebSocket
	// upgrade (default 10s).
	HandshakeTimeout time.Duration
	// MaxConnsPerNode bounds the connections to one owner (default 65536):
	// each forwarded pending GET holds one for as long as it waits.
	MaxConnsPerNode int
	// Observe, when set, is told of each forwarded request: its kind
	// (ForwardPolling or ForwardWebSocket) and result (ForwardOK, ...).
	Observe func(kind, result string)
	Logger  *slog.Logger
}

// Kinds of forwarded requests, as Observe is told.
const (
	ForwardPolling   = "polling"
	ForwardWebSocket = "websocket"
)

// Results of a forwarded request, as Observe is told.
const (
	// ForwardOK is a request the owner answered with success (a
	// WebSocket upgrade: 101, and the tunnel opened).
	ForwardOK = "ok"
	// ForwardRefused is a request the owner answered with an error status,
	// passed on to the client.
	ForwardRefused = "refused"
	// ForwardNoOwner is a request of a tag no live node holds, answered
	// "Session ID unknown" without being forwarded.
	ForwardNoOwner = "no_owner"
	// ForwardFailed is a request the owner did not answer (unreachable,
	// timed out, or this node shutting down), answered "Session ID
	// unknown".
	ForwardFailed = "failed"
)

// Forwarder hands requests for other nodes' sessions to their owners.
type Forwarder struct {
	dir    *Directory
	signer *Signer
	opts   ForwarderOptions
	log    *slog.Logger

	mu      sync.Mutex
	clients map[string]*fasthttp.HostClient
	tunnels map[*tunnel]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// NewForwarder returns a Forwarder that finds owners in dir and signs with
// signer.
func NewForwarder(dir *Directory, signer *Signer, opts ForwarderOptions) *Forwarder {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.Hold <= 0 {
		opts.Hold = time.Minute
	}
	if opts.MaxConnsPerNode <= 0 {
		opts.MaxConnsPerNode = 1 << 16
	}
	if opts.Observe == nil {
		opts.Observe = func(string, string) {}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{dir: dir, signer: signer, opts: opts, log: log,
		clients: make(map[string]*fasthttp.HostClient), tunnels: make(map[*tunnel]struct{})}
}

// Forward is the Engine.IO server's Foreign: it hands c to the node whose
// tag starts sid and answers with what that node answers, or with "Session
// ID unknown" when no live node holds the tag.
func (f *Forwarder) Forward(c *fiber.Ctx, sid string) (bool, error) {
	tag, ok := TagOf(sid)
	if !ok || tag == f.dir.Tag() {
		return false, nil
	}
	// sid is read from the request's buffer, which the next request on
	// the connection overwrites: the tag outlives this call (the
	// directory's cache key, a tunnel's logs), so it gets bytes of its own.
	tag = strings.Clone(tag)
	addr, err := f.dir.Lookup(c.UserContext(), tag)
	if err != nil {
		f.log.Debug("cluster: owner lookup failed", "tag", tag, "error", err)
	}
	kind := ForwardPolling
	if engineio.IsWebSocketUpgrade(c) {
		kind = ForwardWebSocket
	}
	if addr == "" {
		f.opts.Observe(kind, ForwardNoOwner)
		return true, engineio.RefuseUnknownSession(c)
	}
	if kind == ForwardWebSocket {
		result, err := f.tunnelTo(c, tag, addr)
		f.opts.Observe(kind, result)
		return true, err
	}
	result, err := f.forward(c, tag, addr)
	f.opts.Observe(kind, result)
	return true, err
}

// resultOf is the result of a forward the owner answered with status.
func resultOf(status int) string {
	if status >= fiber.StatusBadRequest {
		return ForwardRefused
	}
	return ForwardOK
}

// hopHeaders are the headers of one connection, not passed on.
var hopHeaders = []string{
	fiber.HeaderConnection, "Keep-Alive", "Proxy-Connection", fiber.HeaderTransferEncoding, "TE", "Trailer",
	HeaderTime, HeaderNonce, HeaderSignature,
}

// outgoing builds the request handed to the owner: c's method, URI,
// headers (the client's Host and Origin, so the owner sees the request as
// it was sent), body, and the client's address and scheme, signed.
func (f *Forwarder) outgoing(c *fiber.Ctx, keepUpgrade bool) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	c.Request().Header.CopyTo(&req.Header)
	req.SetRequestURIBytes(c.Request().Header.RequestURI())
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	if keepUpgrade {
		req.Header.Set(fiber.HeaderConnection, "Upgrade")
	} else {
		req.Header.Del(fiber.HeaderUpgrade)
	}
	req.Header.Set(fiber.HeaderXForwardedFor, c.IP())
	req.Header.Set(fiber.HeaderXForwardedProto, c.Protocol())
	req.SetBodyRaw(c.Body())
	f.signer.Sign(req)
	return req
}

// forward hands a polling request to addr and streams the answer back; it
// returns the forward's result.
func (f *Forwarder) forward(c *fiber.Ctx, tag, addr string) (string, error) {
	req := f.outgoing(c, false)
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	if err := f.client(addr).DoTimeout(req, resp, f.opts.Hold); err != nil {
		fasthttp.ReleaseResponse(resp)
		f.dir.Forget(tag)
		f.log.Debug("cluster: forward failed", "tag", tag, "address", addr, "error", err)
		return ForwardFailed, engineio.RefuseUnknownSession(c)
	}
	copyAnswerHeaders(c, &resp.Header)
	c.Status(resp.StatusCode())
	result := resultOf(resp.StatusCode())
	if stream := resp.BodyStream(); stream != nil {
		// The answer is streamed: the forwarding node holds a buffer of
		// it at a time, whatever its size. Closed by fasthttp once written.
		c.Response().SetBodyStream(&answerBody{resp: resp}, resp.Header.ContentLength())
		return result, nil
	}
	c.Response().SetBody(resp.Body())
	fasthttp.ReleaseResponse(resp)
	return result, nil
}

// copyAnswerHeaders copies the owner's answer headers to c, but for those
// of the owner's connection and those the forwarding node writes itself.
func copyAnswerHeaders(c *fiber.Ctx, h *fasthttp.ResponseHeader) {
	if ct := h.ContentType(); len(ct) > 0 {
		c.Response().Header.SetContentTypeBytes(ct)
	}
	h.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fiber.HeaderContentType, fiber.HeaderContentLength, fiber.HeaderConnection, fiber.HeaderTransferEncoding,
			"Keep-Alive", fiber.HeaderDate, fiber.HeaderServer:
			return
		}
		c.Response().Header.SetBytesKV(k, v)
	})
}

// answerBody is the owner's streamed answer, released once written.
type answerBody struct {
	resp *fasthttp.Response
	once sync.Once
}

func (b *answerBody) Read(p []byte) (int, error) { return b.resp.BodyStream().Read(p) }

// Close implements io.Closer: fasthttp calls it once the answer is written
// or abandoned, which gives the owner's connection back to the pool.
func (b *answerBody) Close() error {
	b.once.Do(func() {
		_ = b.resp.CloseBodyStream()
		fasthttp.ReleaseResponse(b.resp)
	})
	return nil
}

// client returns the pooled client of addr.
func (f *Forwarder) client(addr string) *fasthttp.HostClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	hc := f.clients[addr]
	if hc == nil {
		dialTimeout := f.opts.DialTimeout
		hc = &fasthttp.HostClient{
			Addr:                          addr,
			Dial:                          func(a string) (net.Conn, error) { return fasthttp.DialTimeout(a, dialTimeout) },
			MaxConns:                      f.opts.MaxConnsPerNode,
			ReadTimeout:                   f.opts.Hold,
			WriteTimeout:                  f.opts.Hold,
			MaxIdleConnDuration:           30 * time.Second,
			StreamResponseBody:            true,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
		}
		f.clients[addr] = hc
	}
	return hc
}

// tunnelTo hands a WebSocket upgrade to addr: once the owner accepts it
// (101), the client's connection and the owner's are joined byte for byte
// until either closes. The owner runs the WebSocket with its own limits and
// heartbeat; the forwarding node only copies, through two small buffers.
// It returns the forward's result.
func (f *Forwarder) tunnelTo(c *fiber.Ctx, tag, addr string) (string, error) {
	owner, err := net.DialTimeout("tcp", addr, f.opts.DialTimeout)
	if err != nil {
		f.dir.Forget(tag)
		return ForwardFailed, engineio.RefuseUnknownSession(c)
	}
	br, answer, err := f.upgradeAt(owner, c)
	if err != nil {
		_ = owner.Close()
		f.log.Debug("cluster: forwarded upgrade failed", "tag", tag, "address", addr, "error", err)
		return ForwardFailed, engineio.RefuseUnknownSession(c)
	}
	defer fasthttp.ReleaseResponse(answer)
	copyAnswerHeaders(c, &answer.Header)
	c.Status(answer.StatusCode())
	if answer.StatusCode() != fiber.StatusSwitchingProtocols {
		_ = owner.Close()
		c.Response().SetBody(answer.Body())
		return ForwardRefused, nil
	}
	c.Set(fiber.HeaderConnection, "Upgrade")
	t := &tunnel{owner: owner, ownerReader: br}
	if !f.track(t) {
		_ = owner.Close()
		return ForwardFailed, engineio.RefuseUnknownSession(c)
	}
	c.Context().Hijack(func(client net.Conn) {
		defer f.untrack(t)
		t.run(client)
	})
	return ForwardOK, nil
}

// upgradeAt writes the signed upgrade request to the owner and reads its
// answer, within the handshake timeout.
func (f *Forwarder) upgradeAt(owner net.Conn, c *fiber.Ctx) (*bufio.Reader, *fasthttp.Response, error) {
	_ = owner.SetDeadline(time.Now().Add(f.opts.HandshakeTimeout))
	req := f.outgoing(c, true)
	defer fasthttp.ReleaseRequest(req)
	bw := bufio.NewWriterSize(owner, 1024)
	if err := req.Write(bw); err != nil {
		return nil, nil, fmt.Errorf("write upgrade: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("write upgrade: %w", err)
	}
	br := bufio.NewReaderSize(owner, tunnelBuffer)
	answer := fasthttp.AcquireResponse()
	if err := answer.Header.Read(br); err != nil {
		fasthttp.ReleaseResponse(answer)
		return nil, nil, fmt.Errorf("read upgrade answer: %w", err)
	}
	if answer.StatusCode() != fiber.StatusSwitchingProtocols {
		// A refusal's body is a short JSON error.
		if err := answer.ReadBody(br, maxRefusalBody); err != nil {
			fasthttp.ReleaseResponse(answer)
			return nil, nil, fmt.Errorf("read upgrade refusal: %w", err)
		}
	}
	_ = owner.SetDeadline(time.Time{})
	return br, answer, nil
}

// maxRefusalBody bounds the body of an owner's refusal of an upgrade.
const maxRefusalBody = 4096

// tunnelBuffer is the size of each of a tunnel's two copy buffers.
const tunnelBuffer = 4096

// track registers t, unless the Forwarder is closed.
func (f *Forwarder) track(t *tunnel) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.tunnels[t] = struct{}{}
	f.wg.Add(1)
	return true
}

func (f *Forwarder) untrack(t *tunnel) {
	f.mu.Lock()
	delete(f.tunnels, t)
	f.mu.Unlock()
	f.wg.Done()
}

// Tunnels returns the number of WebSocket tunnels open.
func (f *Forwarder) Tunnels() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tunnels)
}

// Close cuts every tunnel and waits until they are done or ctx ends, and
// closes the pooled connections to other nodes.
func (f *Forwarder) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	for t := range f.tunnels {
		t.close()
	}
	clients := f.clients
	f.clients = make(map[string]*fasthttp.HostClient)
	f.mu.Unlock()
	for _, hc := range clients {
		hc.CloseIdleConnections()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: close tunnels: %w", ctx.Err())
	}
}

// tunnel joins a client's connection to the owner's.
type tunnel struct {
	owner       net.Conn
	ownerReader *bufio.Reader // holds what the owner sent after its 101

	mu     sync.Mutex
	client net.Conn
	done   bool
}

// run copies both ways until either side ends, then closes both.
func (t *tunnel) run(client net.Conn) {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		_ = client.Close()
		_ = t.owner.Close()
		return
	}
	t.client = client
	t.mu.Unlock()
	// The public listener's deadlines were for the request.
	_ = client.SetDeadline(time.Time{})
	// Whichever side ends first ends the tunnel: a WebSocket's close
	// frames have crossed by then.
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		copyThrough(t.owner, client)
		t.close()
	}()
	copyThrough(client, t.ownerReader)
	t.close()
	<-finished
}

// copyThrough copies src to dst through a small buffer, so that an idle
// tunnel holds two of them and nothing else. It ends when either side
// fails or closes, which is how a tunnel ends.
func copyThrough(dst io.Writer, src io.Reader) {
	buf := make([]byte, tunnelBuffer)
	_, _ = io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, buf)
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so that CopyBuffer
// uses the small buffer it is given.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

// close ends both connections, which stops both copies.
func (t *tunnel) close() {
	t.mu.Lock()
	t.done = true
	client := t.client
	t.mu.Unlock()
	_ = t.owner.Close()
	if client != nil {
		_ = client.Close()
	}
}
