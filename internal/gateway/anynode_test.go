package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	nodes "github.com/gatehouse-dev/gatehouse/internal/cluster"
)

const anyNodeSecret = "test-cluster-secret-0123456789abcdef"

// anyNodeGateway is a gateway with cluster.any_node on, and the address of
// its internal listener.
type anyNodeGateway struct {
	*liveGateway
	internal string
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startAnyNodeGateway starts a gateway of the cluster on redisURL whose
// sessions any node serves.
func startAnyNodeGateway(t testing.TB, redisURL, prefix string) *anyNodeGateway {
	t.Helper()
	return startAnyNodeGatewayPinging(t, redisURL, prefix, "2s")
}

// startAnyNodeGatewayPinging is startAnyNodeGateway with ping_interval
// and ping_timeout ping.
func startAnyNodeGatewayPinging(t testing.TB, redisURL, prefix, ping string) *anyNodeGateway {
	t.Helper()
	internal := freeAddr(t)
	text := fmt.Sprintf(`
server:
  ping_interval: %s
  ping_timeout: %s
  limits:
    flood: {rate: 0} # benchmarks send more than 100 events a second on one session
adapter:
  kind: redis
  redis: {url: %q, prefix: %s}
cluster:
  any_node: true
  listen: %s
  secret: %s
namespaces:
  /:
    events:
      echo:
        handler:
          reply: {value: data}
`, ping, ping, redisURL, prefix, internal, anyNodeSecret)
	g := startLiveGateway(t, text, Registries{})
	awaitReadyTB(t, g)
	return &anyNodeGateway{liveGateway: g, internal: internal}
}

// awaitReadyTB waits until g's /readyz answers 200 (awaitReady, for
// benchmarks too).
func awaitReadyTB(t testing.TB, g *liveGateway) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for {
		res, err := http.Get("http://" + g.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in time", g.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollingURL is the Engine.IO polling URL at addr, of sid when set.
func pollingURL(addr, sid string) string {
	u := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// pollingRequest sends one polling request and returns its status and body.
func pollingRequest(t *testing.T, method, addr, sid, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, pollingURL(addr, sid), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openPolling opens a polling session at addr and returns its sid.
func openAnyNodePolling(t *testing.T, addr string) string {
	t.Helper()
	status, body := pollingRequest(t, http.MethodGet, addr, "", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake at %s: %d %q", addr, status, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	return open.SID
}

// pollUntil polls sid at addr until a packet of the answer starts with
// prefix, answering the server's pings on the way.
func pollUntil(t *testing.T, addr, sid, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, body := pollingRequest(t, http.MethodGet, addr, sid, "")
		if status != http.StatusOK {
			t.Fatalf("poll at %s: %d %q", addr, status, body)
		}
		for _, p := range strings.Split(body, "\x1e") {
			switch {
			case strings.HasPrefix(p, prefix):
				return p
			case p == "2":
				pollingRequest(t, http.MethodPost, addr, sid, "3")
			}
		}
	}
	t.Fatalf("no packet starting %q at %s within 10s", prefix, addr)
	return ""
}

func TestAnyNodeServesAPollingSessionFromEveryNode(t *testing.T) {
	url, _ := startStallableRedis(t)
	a := startAnyNodeGateway(t, url, "anynode-poll")
	b := startAnyNodeGateway(t, url, "anynode-poll")

	sid := openAnyNodePolling(t, a.addr)
	if len(sid) != nodes.TagLen+20 {
		t.Fatalf("sid %q has %d characters, want the tag and 20", sid, len(sid))
	}
	// The CONNECT goes to b, its answer is read at a, the event at b, its
	// ack at b: every request is the owner's, wherever it arrives.
	if status, body := pollingRequest(t, http.MethodPost, b.addr, sid, "40"); status != http.StatusOK || body != "ok" {
		t.Fatalf("CONNECT through b: %d %q", status, body)
	}
	pollUntil(t, a.addr, sid, "40{")
	if status, body := pollingRequest(t, http.MethodPost, b.addr, sid, `421["echo","through b"]`); status != http.StatusOK || body != "ok" {
		t.Fatalf("event through b: %d %q", status, body)
	}
	if got := pollUntil(t, b.addr, sid, "431"); got != `431["through b"]` {
		t.Fatalf("ack through b = %q", got)
	}
	if got := a.gw.engine.SessionCount() + b.gw.engine.SessionCount(); got != 1 {
		t.Fatalf("%d sessions on the two nodes, want 1 (a's)", got)
	}
	// b counts what it forwarded (the two POSTs and its GETs); a, which
	// served every request itself, nothing.
	ok := series("gatehouse_forwarded_requests_total", "kind", "polling", "result", "ok")
	if onB, onA := scrape(t, b.addr)[ok], scrape(t, a.addr)[ok]; onB < 3 || onA != 0 {
		t.Errorf("%s = %v on b and %v on a, want at least 3 and 0", ok, onB, onA)
	}
}

func TestAnyNodeUpgradesAnotherNodesSessionThroughAnyNode(t *testing.T) {
	url, _ := startStallableRedis(t)
	a := startAnyNodeGateway(t, url, "anynode-ws")
	b := startAnyNodeGateway(t, url, "anynode-ws")

	sid := openAnyNodePolling(t, a.addr)
	pollingRequest(t, http.MethodPost, a.addr, sid, "40")
	pollUntil(t, a.addr, sid, "40{")

	ws, resp, err := fws.DefaultDialer.Dial("ws://"+b.addr+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		var answer []byte
		if resp != nil {
			answer, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("upgrade through b: %v (%d %v %q)", err, resp.StatusCode, resp.Header, answer)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	exchange := func(send, wantPrefix string) string {
		t.Helper()
		if err := ws.WriteMessage(fws.TextMessage, []byte(send)); err != nil {
			t.Fatal(err)
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read after %q: %v", send, err)
			}
			if strings.HasPrefix(string(msg), wantPrefix) {
				return string(msg)
			}
		}
	}
	exchange("2probe", "3probe")
	// The pending GET is released with a noop once the upgrade is done.
	if err := ws.WriteMessage(fws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	if got := exchange(`421["echo","over the tunnel"]`, "431"); got != `431["over the tunnel"]` {
		t.Fatalf("ack over the tunnel = %q", got)
	}
	// The session was moved to b (AdoptWebSocket) or is tunnelled to a,
	// and b counted which.
	if n, moved := b.gw.anyNode.fwd.Tunnels(), b.gw.engine.SessionCount(); n+moved != 1 {
		t.Fatalf("b has %d tunnels and %d sessions, want one of them", n, moved)
	}
	samples := scrape(t, b.addr)
	moves := samples[series("gatehouse_session_moves_total", "result", "moved")]
	tunnels := samples[series("gatehouse_forwarded_requests_total", "kind", "websocket", "result", "ok")]
	if moves+tunnels != 1 {
		t.Errorf("b counts %v moves and %v tunnelled upgrades, want one of them", moves, tunnels)
	}
	// Polling is over for the session, on every node.
	if status, _ := pollingRequest(t, http.MethodGet, b.addr, sid, ""); status != http.StatusBadRequest {
		t.Fatalf("poll after the upgrade through b: %d, want 400", status)
	}
	_ = ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for b.gw.anyNode.fwd.Tunnels() != 0 || a.gw.engine.SessionCount()+b.gw.engine.SessionCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the client closed: %d tunnels on b, %d sessions on a, %d on b", b.gw.anyNode.fwd.Tunnels(),
				a.gw.engine.SessionCount(), b.gw.engine.SessionCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAnyNodeAnswersSessionIDUnknownWhenTheOwnerIsGone(t *testing.T) {
	url, _ := startStallableRedis(t)
	a := startAnyNodeGateway(t, url, "anynode-gone")
	b := startAnyNodeGateway(t, url, "anynode-gone")
	sid := openAnyNodePolling(t, a.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.stop(ctx); err != nil {
		t.Fatal(err)
	}
	status, body := pollingRequest(t, http.MethodGet, b.addr, sid, "")
	if status != http.StatusBadRequest || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("poll of a stopped node's session through b: %d %q", status, body)
	}
	noOwner := series("gatehouse_forwarded_requests_total", "kind", "polling", "result", "no_owner")
	if got := scrape(t, b.addr)[noOwner]; got != 1 {
		t.Errorf("%s = %v after a poll of a stopped node's session, want 1", noOwner, got)
	}
	// A sid of a tag no node holds, and one of b's own tag that b does
	// not hold, are unknown too, and nothing is forwarded.
	for _, sid := range []string{"zzzzzzzz" + sid[nodes.TagLen:], b.gw.anyNode.dir.Tag() + sid[nodes.TagLen:]} {
		if status, _ := pollingRequest(t, http.MethodGet, b.addr, sid, ""); status != http.StatusBadRequest {
			t.Fatalf("poll of %q: %d, want 400", sid, status)
		}
	}
}

func TestAnyNodeInternalListenerRefusesUnsignedWronglySignedStaleAndReplayedRequests(t *testing.T) {
	url, _ := startStallableRedis(t)
	a := startAnyNodeGateway(t, url, "anynode-auth")
	sid := openAnyNodePolling(t, a.addr)

	send := func(req *fasthttp.Request) (int, string) {
		t.Helper()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
		if err := fasthttp.DoTimeout(req, resp, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), string(resp.Body())
	}
	request := func() *fasthttp.Request {
		req := &fasthttp.Request{}
		req.SetRequestURI("http://" + a.internal + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
		req.Header.SetMethod(http.MethodPost)
		req.Header.SetContentType("text/plain;charset=UTF-8")
		req.SetBodyString("40")
		return req
	}
	refusals := func() uint64 {
		var n uint64
		for limit, c := range a.gw.LimitRefusals() {
			if strings.HasPrefix(limit, "cluster_") {
				n += c
			}
		}
		return n
	}

	tests := []struct {
		name string
		sign func(*fasthttp.Request)
		want string
	}{
		{"unsigned", func(*fasthttp.Request) {}, "not signed"},
		{"wrong secret", nodes.NewSigner("another-secret-0123456789abcdef0123", nil).Sign, "wrong signature"},
		{"stale", nodes.NewSigner(anyNodeSecret, func() time.Time { return time.Now().Add(-time.Minute) }).Sign, "outside the window"},
		{"body changed after signing", func(req *fasthttp.Request) {
			nodes.NewSigner(anyNodeSecret, nil).Sign(req)
			req.SetBodyString(`42["evil"]`)
		}, "wrong signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := refusals()
			req := request()
			tc.sign(req)
			status, body := send(req)
			if status != http.StatusUnauthorized || !strings.Contains(body, tc.want) || !strings.Contains(body, `"unauthorized"`) {
				t.Fatalf("answer %d %q, want 401 unauthorized %q", status, body, tc.want)
			}
			if refusals() != before+1 {
				t.Fatalf("cluster refusals %d -> %d, want one more", before, refusals())
			}
		})
	}
	t.Run("replayed", func(t *testing.T) {
		req := request()
		nodes.NewSigner(anyNodeSecret, nil).Sign(req)
		replay := &fasthttp.Request{}
		req.CopyTo(replay)
		if status, body := send(req); status != http.StatusOK || body != "ok" {
			t.Fatalf("signed request: %d %q, want 200 ok", status, body)
		}
		if status, body := send(replay); status != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
			t.Fatalf("replayed request: %d %q, want 401 replayed", status, body)
		}
	})
	// The public listener does not serve what the internal one does: a
	// signed request there is an ordinary one, and the internal listener
	// serves no handshake.
	req := &fasthttp.Request{}
	req.SetRequestURI("http://" + a.internal + "/socket.io/?EIO=4&transport=polling")
	nodes.NewSigner(anyNodeSecret, nil).Sign(req)
	if status, _ := send(req); status != http.StatusBadRequest {
		t.Fatalf("handshake on the internal listener: %d, want 400", status)
	}
}

// TestAnyNodeForwardingHoldsABoundedAmountPerRequest sends what a client
// can make a forwarding node hold: a body over max_payload, refused by the
// forwarding node before anything reaches the owner, and 200 long-polling
// GETs held through the forwarding node, each of which holds a connection
// to the owner and a request's buffers, within a budget of 64 KiB per GET
// for the two nodes together (both run in this process), with nothing left
// once they are answered.
func TestAnyNodeForwardingHoldsABoundedAmountPerRequest(t *testing.T) {
	url, _ := startStallableRedis(t)
	a := startAnyNodeGatewayPinging(t, url, "anynode-budget", "20s")
	b := startAnyNodeGatewayPinging(t, url, "anynode-budget", "20s")

	sid := openAnyNodePolling(t, a.addr)
	status, body := postReadingEarly(t, b.addr, sid, 2<<20)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "payload_too_large") {
		t.Fatalf("2 MiB body through b: %d %q, want 413 payload_too_large", status, body)
	}
	if a.gw.engine.SessionCount() != 1 {
		t.Fatalf("a holds %d sessions after the refused body, want 1", a.gw.engine.SessionCount())
	}

	const gets = 200
	sids := make([]string, gets)
	for i := range sids {
		sids[i] = openAnyNodePolling(t, a.addr)
	}
	before := heapInUse()
	conns := make([]net.Conn, 0, gets)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for _, sid := range sids {
		c, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n\r\n", sid, b.addr); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // every GET forwarded and waiting at a
	held := heapInUse() - before
	const budget = 64 << 10
	t.Logf("%d GETs held through b: heap +%s, %d B each", gets, mib(held), held/gets)
	if held > gets*budget {
		t.Fatalf("%d GETs held through b grew the heap by %s, over %d KiB each", gets, mib(held), budget>>10)
	}
	// A pending GET through b is the owner's: a second GET of the same
	// session, direct to a, closes the session and answers the first.
	if status, _ := pollingRequest(t, http.MethodGet, a.addr, sids[0], ""); status != http.StatusBadRequest {
		t.Fatalf("second GET at a: %d, want 400", status)
	}
	_ = conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(io.LimitReader(conns[0], 4096))
	if err != nil && !isTimeoutErr(err) {
		t.Fatal(err)
	}
	if !strings.Contains(string(answer), "200 OK") || !strings.Contains(string(answer), "\r\n\r\n1") {
		t.Fatalf("the GET held through b was answered %q, want the close packet", answer)
	}
}

// postReadingEarly POSTs a body of size bytes to a polling session at addr
// on a connection of its own, and reads the answer while the body is still
// being written. A server that refuses the body as soon as it sees its
// Content-Length answers and closes with the rest unread, which resets the
// connection: net/http's client then often reports its failed write
// instead of the answer that had already come.
func postReadingEarly(t *testing.T, addr, sid string, size int) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		request := fmt.Sprintf("POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n"+
			"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s", sid, addr, size, strings.Repeat("x", size))
		// Fails once the server has answered and closed: expected.
		_, _ = io.WriteString(conn, request)
	}()
	defer func() {
		_ = conn.Close()
		<-written
	}()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("answer to a %d-byte POST at %s: %v", size, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body of the answer to a %d-byte POST at %s: %v", size, addr, err)
	}
	return resp.StatusCode, string(body)
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
