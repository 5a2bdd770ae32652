package engineio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's worker pool cleaner sleeps up to 10s before it sees
		// that its server stopped.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// fasthttp refreshes its Date header once a second for the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// waitLimit bounds every wait in these tests; reaching it is a failure,
// never a measurement.
const waitLimit = 5 * time.Second

// event is what a listener saw.
type event struct {
	sid    string
	msg    Message
	closed bool
	reason string
}

// recorder is a Handler that records what its sessions see and, when
// echo is set, sends every message back.
type recorder struct {
	echo   bool
	opened chan Conn
	events chan event
}

func newRecorder(echo bool) *recorder {
	return &recorder{echo: echo, opened: make(chan Conn, 64), events: make(chan event, 256)}
}

func (r *recorder) Open(c Conn) Listener {
	r.opened <- c
	return &recordingListener{r: r, conn: c}
}

type recordingListener struct {
	r    *recorder
	conn Conn
}

func (l *recordingListener) OnMessage(msg Message) {
	kept := Message{Data: bytes.Clone(msg.Data), Binary: msg.Binary}
	l.r.events <- event{sid: l.conn.ID(), msg: kept}
	if l.r.echo {
		_ = l.conn.Send(kept)
	}
}

func (l *recordingListener) OnClose(reason string) {
	l.r.events <- event{sid: l.conn.ID(), closed: true, reason: reason}
}

func (r *recorder) nextConn(t *testing.T) Conn {
	t.Helper()
	select {
	case c := <-r.opened:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no session was opened")
		return nil
	}
}

func (r *recorder) nextEvent(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(waitLimit):
		t.Fatal("the listener saw nothing")
		return event{}
	}
}

func (r *recorder) expectMessage(t *testing.T, want string, binary bool) {
	t.Helper()
	e := r.nextEvent(t)
	if e.closed || string(e.msg.Data) != want || e.msg.Binary != binary {
		t.Fatalf("listener saw %+v, want message %q (binary %v)", e, want, binary)
	}
}

func (r *recorder) expectClose(t *testing.T, reason string) {
	t.Helper()
	e := r.nextEvent(t)
	if !e.closed || e.reason != reason {
		t.Fatalf("listener saw %+v, want close %q", e, reason)
	}
}

// testServer is an Engine.IO server on a real listening Fiber app.
type testServer struct {
	srv    *Server
	addr   string
	client *http.Client
}

// startServer starts the server as the gateway runs it, owning the
// connections its WebSocket upgrades hijack.
func startServer(t testing.TB, opts Options, h Handler, before ...fiber.Handler) *testServer {
	t.Helper()
	return startServerOwning(t, true, opts, h, before...)
}

// startServerOwning starts the server; unless ownConns, WebSockets are
// served on fasthttp's hijack goroutine, which closes them on return.
func startServerOwning(t testing.TB, ownConns bool, opts Options, h Handler, before ...fiber.Handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := NewServer(opts, h)
	if ownConns {
		srv.OwnHijackedConns(app.Server())
	}
	srv.Mount(app, "/socket.io/", before...)
	served := make(chan error, 1)
	servedLn := net.Listener(ln)
	if ownConns {
		servedLn = srv.WrapListener(ln)
	}
	go func() { served <- app.Listener(servedLn) }()
	ts := &testServer{
		srv:    srv,
		addr:   ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(func() {
		// Close sessions first: their pending GETs must be released before
		// the HTTP server can shut down. Polling test clients do not come
		// back for their close packet, so Shutdown is not given long.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = srv.Shutdown(ctx)
		appCtx, appCancel := context.WithTimeout(context.Background(), waitLimit)
		defer appCancel()
		if err := app.ShutdownWithContext(appCtx); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		<-served
	})
	return ts
}

func (ts *testServer) url(query string) string {
	return "http://" + ts.addr + "/socket.io/?" + query
}

func (ts *testServer) wsURL(query string) string {
	return "ws://" + ts.addr + "/socket.io/?" + query
}

type response struct {
	status int
	header http.Header
	body   string
}

func (ts *testServer) do(t *testing.T, method, url, body string, header http.Header) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// handshakePolling opens a polling session and returns its open packet.
func (ts *testServer) handshakePolling(t *testing.T) handshakeBody {
	t.Helper()
	resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("handshake status %d: %s", resp.status, resp.body)
	}
	return parseOpen(t, resp.body)
}

func parseOpen(t *testing.T, body string) handshakeBody {
	t.Helper()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake %q is not an open packet", body)
	}
	var hs handshakeBody
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil {
		t.Fatalf("handshake %q: %v", body, err)
	}
	return hs
}

func (ts *testServer) poll(t *testing.T, sid string) response {
	t.Helper()
	return ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling&sid="+sid), "", nil)
}

func (ts *testServer) post(t *testing.T, sid, payload string) response {
	t.Helper()
	return ts.do(t, http.MethodPost, ts.url("EIO=4&transport=polling&sid="+sid), payload, nil)
}

// eventually fails the test when cond does not hold within waitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pollPending reports whether session sid has a GET waiting.
func (ts *testServer) pollPending(sid string) bool {
	s := ts.srv.lookup(sid)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poll != nil
}

// asyncPoll sends a GET that is expected to block, and returns its answer
// on a channel.
func (ts *testServer) asyncPoll(t *testing.T, sid string) <-chan response {
	t.Helper()
	out := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, ts.url("EIO=4&transport=polling&sid="+sid), nil)
		resp, err := ts.client.Do(req)
		if err != nil {
			out <- response{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		out <- response{status: resp.StatusCode, header: resp.Header, body: string(data)}
	}()
	eventually(t, "the GET is pending", func() bool { return ts.pollPending(sid) })
	return out
}

func receive(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitLimit):
		t.Fatal("the pending GET was never answered")
		return response{}
	}
}

func expectProtocolError(t *testing.T, resp response, status int, code errorCode) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("status %d (%s), want %d", resp.status, resp.body, status)
	}
	var got protocolError
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("error body %q: %v", resp.body, err)
	}
	if got.Code != code || got.Message != code.message() {
		t.Fatalf("error body %+v, want code %d %q", got, code, code.message())
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q", ct)
	}
}

func TestPollingHandshake(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 5000}, rec)
	resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling&t=abc"), "", http.Header{"X-Trace": {"t1"}})
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("content type %q", ct)
	}
	hs := parseOpen(t, resp.body)
	if len(hs.SID) != 20 {
		t.Fatalf("sid %q is not 20 characters", hs.SID)
	}
	if len(hs.Upgrades) != 1 || hs.Upgrades[0] != "websocket" {
		t.Fatalf("upgrades %v, want [websocket]", hs.Upgrades)
	}
	if hs.PingInterval != 300 || hs.PingTimeout != 200 || hs.MaxPayload != 5000 {
		t.Fatalf("handshake %+v does not carry the options", hs)
	}

	conn := rec.nextConn(t)
	if conn.ID() != hs.SID || conn.Transport() != TransportPolling {
		t.Fatalf("session %s on %s, want %s on polling", conn.ID(), conn.Transport(), hs.SID)
	}
	h := conn.Handshake()
	if h.Query.Get("t") != "abc" || h.Header.Get("X-Trace") != "t1" || h.RemoteIP != "127.0.0.1" {
		t.Fatalf("handshake kept query %v, header %v, ip %q", h.Query, h.Header, h.RemoteIP)
	}
	if ts.srv.SessionCount() != 1 {
		t.Fatalf("SessionCount = %d, want 1", ts.srv.SessionCount())
	}
	other := ts.handshakePolling(t)
	if other.SID == hs.SID {
		t.Fatal("two sessions got the same sid")
	}
}

func TestPollingUpgradesFollowTransports(t *testing.T) {
	ts := startServer(t, Options{Transports: []string{TransportPolling}}, newRecorder(false))
	if hs := ts.handshakePolling(t); len(hs.Upgrades) != 0 {
		t.Fatalf("upgrades %v with websocket disabled, want none", hs.Upgrades)
	}
	resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=websocket"), "", nil)
	expectProtocolError(t, resp, http.StatusBadRequest, codeUnknownTransport)
}

func TestHandshakeKeepsWhatTheMiddlewareLeftInLocals(t *testing.T) {
	type middlewareValue map[string]any
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec, func(c *fiber.Ctx) error {
		c.Locals(HandshakeLocal, middlewareValue{"sub": "42"})
		return c.Next()
	})
	ts.handshakePolling(t)
	hs := rec.nextConn(t).Handshake()
	if local, _ := hs.Local.(middlewareValue); local["sub"] != "42" {
		t.Fatalf("handshake local %#v, want the middleware's value with sub 42", hs.Local)
	}
}

func TestPollingRoundTrip(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	resp := ts.post(t, sid, "4hello\x1e4world\x1ebAQID")
	if resp.status != http.StatusOK || resp.body != "ok" || resp.header.Get("Content-Type") != "text/html" {
		t.Fatalf("POST answered %d %q %q, want 200 ok text/html", resp.status, resp.body, resp.header.Get("Content-Type"))
	}
	rec.expectMessage(t, "hello", false)
	rec.expectMessage(t, "world", false)
	rec.expectMessage(t, "\x01\x02\x03", true)

	got := ts.poll(t, sid)
	if got.status != http.StatusOK || got.body != "4hello\x1e4world\x1ebAQID" {
		t.Fatalf("GET answered %d %q", got.status, got.body)
	}
	if ct := got.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("GET content type %q", ct)
	}
}

func TestPollingGetWaitsForMessages(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	pending := ts.asyncPoll(t, sid)
	if err := conn.Send(Message{Data: []byte("late")}, Message{Data: []byte{0xff}, Binary: true}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, pending); got.body != "4late\x1eb/w==" {
		t.Fatalf("released GET answered %q", got.body)
	}
}

func TestRefusedRequests(t *testing.T) {
	ts := startServer(t, Options{}, newRecorder(false))
	tests := []struct {
		name   string
		method string
		query  string
		code   errorCode
	}{
		{name: "unknown sid", method: http.MethodGet, query: "EIO=4&transport=polling&sid=nope", code: codeUnknownSID},
		{name: "unknown sid on POST", method: http.MethodPost, query: "EIO=4&transport=polling&sid=nope", code: codeUnknownSID},
		{name: "unknown transport", method: http.MethodGet, query: "EIO=4&transport=flash", code: codeUnknownTransport},
		{name: "missing transport", method: http.MethodGet, query: "EIO=4", code: codeUnknownTransport},
		{name: "protocol v3", method: http.MethodGet, query: "EIO=3&transport=polling", code: codeUnsupportedProtocolVersion},
		{name: "missing protocol version", method: http.MethodGet, query: "transport=polling", code: codeUnsupportedProtocolVersion},
		{name: "handshake by POST", method: http.MethodPost, query: "EIO=4&transport=polling", code: codeBadHandshakeMethod},
		{name: "websocket without upgrade", method: http.MethodGet, query: "EIO=4&transport=websocket", code: codeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectProtocolError(t, ts.do(t, tt.method, ts.url(tt.query), "", nil), http.StatusBadRequest, tt.code)
		})
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("refused requests left %d sessions", n)
	}
}

func TestOrigins(t *testing.T) {
	ts := startServer(t, Options{AllowedOrigins: []string{"https://app.example"}}, newRecorder(false))
	handshake := ts.url("EIO=4&transport=polling")

	t.Run("foreign origin is forbidden", func(t *testing.T) {
		resp := ts.do(t, http.MethodGet, handshake, "", http.Header{"Origin": {"https://evil.example"}})
		expectProtocolError(t, resp, http.StatusForbidden, codeForbidden)
	})
	t.Run("foreign preflight is forbidden", func(t *testing.T) {
		resp := ts.do(t, http.MethodOptions, handshake, "", http.Header{"Origin": {"https://evil.example"}})
		expectProtocolError(t, resp, http.StatusForbidden, codeForbidden)
	})
	t.Run("allowed origin gets CORS headers", func(t *testing.T) {
		resp := ts.do(t, http.MethodGet, handshake, "", http.Header{"Origin": {"https://app.example"}})
		if resp.status != http.StatusOK {
			t.Fatalf("status %d", resp.status)
		}
		if resp.header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("CORS headers %v", resp.header)
		}
	})
	t.Run("allowed preflight", func(t *testing.T) {
		resp := ts.do(t, http.MethodOptions, handshake, "", http.Header{
			"Origin":                         {"https://app.example"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type, authorization"},
		})
		if resp.status != http.StatusNoContent {
			t.Fatalf("preflight status %d", resp.status)
		}
		if !strings.Contains(resp.header.Get("Access-Control-Allow-Methods"), "POST") ||
			resp.header.Get("Access-Control-Allow-Headers") != "content-type, authorization" ||
			resp.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Fatalf("preflight headers %v", resp.header)
		}
	})
	t.Run("no origin is a non-browser client", func(t *testing.T) {
		ts.handshakePolling(t)
	})
	t.Run("foreign websocket is refused", func(t *testing.T) {
		conn, resp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), http.Header{"Origin": {"https://evil.example"}})
		if err == nil {
			conn.Close()
			t.Fatal("a foreign origin opened a WebSocket")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial error %v, response %v", err, resp)
		}
		resp.Body.Close()
	})
	t.Run("allowed websocket", func(t *testing.T) {
		ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", http.Header{"Origin": {"https://app.example"}})
		readOpen(t, ws)
		ws.Close()
	})
}

func TestPollingClientClose(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	if resp := ts.post(t, sid, "4bye\x1e1\x1e4ignored"); resp.body != "ok" {
		t.Fatalf("POST answered %q", resp.body)
	}
	rec.expectMessage(t, "bye", false)
	rec.expectClose(t, "transport close")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

func TestServerCloseSendsQueueThenClosePacket(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	if err := conn.Send(Message{Data: []byte("41")}); err != nil {
		t.Fatal(err)
	}
	conn.Close("forced close")
	if err := conn.Send(Message{Data: []byte("late")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	rec.expectClose(t, "forced close")
	if got := ts.poll(t, sid); got.body != "441\x1e1" {
		t.Fatalf("GET after Close answered %q, want the queue then the close packet", got.body)
	}
	if ts.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount = %d after close", ts.srv.SessionCount())
	}
}

func TestSlowConsumer(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{SendQueue: 2}, rec)
	ts.handshakePolling(t)
	conn := rec.nextConn(t)

	if err := conn.Send(Message{Data: []byte("a")}, Message{Data: []byte("b")}); err != nil {
		t.Fatalf("Send within the bound: %v", err)
	}
	if err := conn.Send(Message{Data: []byte("c")}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send beyond the bound = %v, want ErrQueueFull", err)
	}
	rec.expectClose(t, "slow consumer")
	if err := conn.Send(Message{Data: []byte("d")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after the close = %v, want ErrClosed", err)
	}
}

func TestPollingPingTimeout(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	// The first ping arrives on a GET; never answering it ends the session.
	if got := ts.poll(t, sid); got.body != "2" {
		t.Fatalf("GET answered %q, want a ping", got.body)
	}
	rec.expectClose(t, "ping timeout")
	if ts.srv.SessionCount() != 0 {
		t.Fatalf("SessionCount = %d after the timeout", ts.srv.SessionCount())
	}
}

func TestPollingPongKeepsSessionAlive(t *testing.T) {
	rec := newRecorder(false)
	// A generous timeout: the test is about answered pings, not speed.
	ts := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	for pings := 0; pings < 5; {
		switch got := ts.poll(t, sid); got.body {
		case "2":
			pings++
			if resp := ts.post(t, sid, "3"); resp.body != "ok" {
				t.Fatalf("pong POST answered %d %q", resp.status, resp.body)
			}
		case "6":
			// The GET's own safety timeout; poll again.
		default:
			t.Fatalf("GET answered %q, want a ping", got.body)
		}
	}
	select {
	case e := <-rec.events:
		t.Fatalf("session ended while answering pings: %+v", e)
	default:
	}
}

func dialWebSocket(t *testing.T, ts *testServer, query string, header http.Header) *fws.Conn {
	t.Helper()
	conn, resp, err := fws.DefaultDialer.Dial(ts.wsURL(query), header)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", query, err, resp)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return conn
}

func readFrame(t *testing.T, ws *fws.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	typ, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return typ, string(data)
}

func expectText(t *testing.T, ws *fws.Conn, want string) {
	t.Helper()
	if typ, got := readFrame(t, ws); typ != fws.TextMessage || got != want {
		t.Fatalf("frame %d %q, want text %q", typ, got, want)
	}
}

func readOpen(t *testing.T, ws *fws.Conn) handshakeBody {
	t.Helper()
	typ, data := readFrame(t, ws)
	if typ != fws.TextMessage {
		t.Fatalf("first frame is type %d", typ)
	}
	return parseOpen(t, data)
}

func writeText(t *testing.T, ws *fws.Conn, text string) {
	t.Helper()
	if err := ws.WriteMessage(fws.TextMessage, []byte(text)); err != nil {
		t.Fatalf("write %q: %v", text, err)
	}
}

// expectClosed reads until the connection ends, which it must do after
// the close packet.
func expectClosed(t *testing.T, ws *fws.Conn) {
	t.Helper()
	expectText(t, ws, "1")
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the connection stayed open after the close packet")
	} else if !fws.IsCloseError(err, fws.CloseNormalClosure) {
		t.Fatalf("connection ended with %v, want a normal close", err)
	}
}

func TestWebSocketOnly(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{MaxPayload: 1000}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()

	hs := readOpen(t, ws)
	if len(hs.Upgrades) != 0 || len(hs.SID) != 20 || hs.MaxPayload != 1000 {
		t.Fatalf("websocket handshake %+v", hs)
	}
	conn := rec.nextConn(t)
	if conn.ID() != hs.SID || conn.Transport() != TransportWebSocket {
		t.Fatalf("session %s on %s", conn.ID(), conn.Transport())
	}

	writeText(t, ws, "4hello")
	rec.expectMessage(t, "hello", false)
	expectText(t, ws, "4hello")

	if err := ws.WriteMessage(fws.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	rec.expectMessage(t, "\x01\x02\x03", true)
	if typ, got := readFrame(t, ws); typ != fws.BinaryMessage || got != "\x01\x02\x03" {
		t.Fatalf("binary echo came as %d %q", typ, got)
	}

	// A polling request for a WebSocket session is a transport mismatch.
	expectProtocolError(t, ts.poll(t, hs.SID), http.StatusBadRequest, codeBadRequest)

	conn.Close("forced close")
	rec.expectClose(t, "forced close")
	expectClosed(t, ws)
	eventually(t, "the session is forgotten", func() bool { return ts.srv.lookup(hs.SID) == nil })
}

func TestWebSocketClientGoesAway(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	sid := readOpen(t, ws).SID
	rec.nextConn(t)

	ws.Close()
	rec.expectClose(t, "transport close")
	eventually(t, "the session is forgotten", func() bool { return ts.srv.lookup(sid) == nil })
}

func TestWebSocketMaxPayload(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{MaxPayload: 64}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	rec.nextConn(t)

	writeText(t, ws, "4"+strings.Repeat("x", 100))
	rec.expectClose(t, "transport error")
}

func TestWebSocketPingTimeout(t *testing.T) {
	rec := newRecorder(false)
	// The pong is due PingTimeout after the ping was due: 50 ms left a ping
	// written late on a loaded machine dropped by the timeout's close.
	ts := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	rec.nextConn(t)

	expectText(t, ws, "2")
	rec.expectClose(t, "ping timeout")
	expectClosed(t, ws)
}

func TestWebSocketPongKeepsSessionAlive(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	rec.nextConn(t)

	for range 5 {
		expectText(t, ws, "2")
		writeText(t, ws, "3")
	}
	writeText(t, ws, "4still here")
	expectText(t, ws, "4still here")
}

func TestUpgradeFromPolling(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	pending := ts.asyncPoll(t, sid)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	writeText(t, ws, "2probe")
	expectText(t, ws, "3probe")

	// A second upgrade while one is in progress is opened and closed.
	second := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	expectClosedWithoutData(t, second)

	if got := receive(t, pending); got.body != "6" {
		t.Fatalf("the pending GET was released with %q, want a noop", got.body)
	}
	if conn.Transport() != TransportPolling {
		t.Fatal("the session switched before the upgrade packet")
	}

	// Queued before the switch, written over the WebSocket after it.
	if err := conn.Send(Message{Data: []byte("queued")}); err != nil {
		t.Fatal(err)
	}
	writeText(t, ws, "5")
	expectText(t, ws, "4queued")
	if conn.Transport() != TransportWebSocket {
		t.Fatalf("transport %s after the upgrade", conn.Transport())
	}

	writeText(t, ws, "4over websocket")
	rec.expectMessage(t, "over websocket", false)
	expectText(t, ws, "4over websocket")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeBadRequest)

	ws.Close()
	rec.expectClose(t, "transport close")
}

func TestUpgradeTimeoutKeepsPolling(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{UpgradeTimeout: 50 * time.Millisecond}, rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()
	// No probe: the server gives up on this WebSocket, not on the session.
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the unconfirmed WebSocket stayed open")
	}
	eventually(t, "the upgrade is abandoned", func() bool { return ts.phase(sid) == phasePolling })
	if conn.Transport() != TransportPolling {
		t.Fatalf("transport %s after a failed upgrade", conn.Transport())
	}
	ts.post(t, sid, "4still polling")
	rec.expectMessage(t, "still polling", false)
	if got := ts.poll(t, sid); got.body != "4still polling" {
		t.Fatalf("GET answered %q", got.body)
	}
}

func TestShutdown(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	pollingSID := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	rec.nextConn(t)
	pending := ts.asyncPoll(t, pollingSID)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	if got := receive(t, pending); got.body != "1" {
		t.Fatalf("pending GET answered %q, want the close packet", got.body)
	}
	expectClosed(t, ws)
	for range 2 {
		rec.expectClose(t, "server shutting down")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Shutdown did not return")
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d after Shutdown", n)
	}
	resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", nil)
	if resp.status != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Shutdown answered %d", resp.status)
	}
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	h := &blockingHandler{entered: make(chan struct{}, 1), release: make(chan struct{})}
	ts := startServer(t, Options{}, h)
	// A listener stuck in OnMessage keeps its session from finishing.
	sid := ts.handshakePolling(t).SID
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		req, _ := http.NewRequest(http.MethodPost, ts.pollURL(sid), strings.NewReader("4stuck"))
		if resp, err := ts.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-h.entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := ts.srv.Shutdown(ctx)
	close(h.release)
	<-posted
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline", err)
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d", n)
	}
}

// blockingHandler's listeners block in OnMessage until release is closed.
type blockingHandler struct {
	entered chan struct{}
	release chan struct{}
}

func (h *blockingHandler) Open(Conn) Listener { return h }

func (h *blockingHandler) OnMessage(Message) {
	h.entered <- struct{}{}
	<-h.release
}

func (h *blockingHandler) OnClose(string) {}

// handshakeBody is the JSON of the open packet as a client reads it.
type handshakeBody struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}
