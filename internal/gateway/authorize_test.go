package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// These tests run a real gateway whose namespaces ask a real HTTP backend
// (an auth service keeping cookie sessions) at CONNECT, and play the
// clients, honest and not.

// sessionBackend is an auth service: the cookie "session" names a session.
type sessionBackend struct {
	srv      *httptest.Server
	calls    atomic.Int64
	refresh  atomic.Int64
	lifetime atomic.Int64 // seconds; 0 gives no lifetime
	revoked  sync.Map     // session id -> true
	// hold, when set, makes every answer wait until it is closed.
	hold     atomic.Pointer[chan struct{}]
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	mu       sync.Mutex
	last     map[string]any
}

var testSessions = map[string]map[string]any{
	"s-alice":  {"sub": "alice", "name": "Alice", "role": "member"},
	"s-admin":  {"sub": "root", "name": "Root", "role": "admin"},
	"s-noname": {"sub": "anon", "role": "member"},
	"s-guest":  {"sub": "guest", "name": "Guest", "role": "guest"},
}

func newSessionBackend(t *testing.T) *sessionBackend {
	t.Helper()
	b := &sessionBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		if h := b.hold.Swap(nil); h != nil {
			close(*h)
		}
		b.srv.Close()
	})
	return b
}

func (b *sessionBackend) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason  string            `json:"reason"`
		Cookies map[string]string `json:"cookies"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &req)
	b.calls.Add(1)
	if req.Reason == "refresh" {
		b.refresh.Add(1)
	}
	b.mu.Lock()
	_ = json.Unmarshal(body, &b.last)
	b.mu.Unlock()
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for seen := b.maxSeen.Load(); n > seen && !b.maxSeen.CompareAndSwap(seen, n); seen = b.maxSeen.Load() {
	}
	if h := b.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(b.answer(req.Cookies["session"]))
}

func (b *sessionBackend) answer(sid string) map[string]any {
	if _, revoked := b.revoked.Load(sid); revoked {
		return map[string]any{"allow": false, "code": "unauthorized", "message": "session ended"}
	}
	switch claims, ok := testSessions[sid]; {
	case sid == "s-banned":
		return map[string]any{"allow": false, "code": "forbidden", "message": "banned"}
	case !ok:
		return map[string]any{"allow": false, "code": "unauthorized", "message": "no session"}
	default:
		out := map[string]any{"allow": true, "claims": claims}
		if secs := b.lifetime.Load(); secs > 0 {
			out["expires_in"] = secs
		}
		return out
	}
}

func (b *sessionBackend) lastRequest() map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

const authorizerTestSecret = "authorizer-test-secret-of-32-bytes!"

// authorizerConfig serves /app (the authorizer alone, on a session
// cookie) and /jwt (the authorizer after a token). %[1]s is the backend's
// URL, %[2]s more keys of /app's authorizer.
const authorizerConfig = `
auth:
  jwt:
    secret: ` + authorizerTestSecret + `
    algorithms: [HS256]
guards:
  members:
    claims: {role: {one_of: [member, admin]}}
  named:
    expr: {condition: 'has(user.name)', code: forbidden, message: tell us your name}
  admins:
    claims: {role: admin}
namespaces:
  /app:
    auth: none
    authorizer:
      url: %[1]s
      cookies: [session]
      headers: [X-Client]
%[2]s
    guards: [members]
    events:
      whoami:
        guards: [named]
        handler:
          reply: {value: user}
      admin_only:
        guards: [admins]
        handler:
          reply: {value: '{"ok": true}'}
  /jwt:
    auth: required
    authorizer:
      url: %[1]s
      cookies: [session]
    events:
      whoami:
        handler:
          reply: {value: user}
`

func startAuthorizedGateway(t *testing.T, b *sessionBackend, extra string) *liveGateway {
	t.Helper()
	return startLiveGateway(t, fmt.Sprintf(authorizerConfig, b.srv.URL, extra), Registries{})
}

// dialWith opens a session whose handshake carries header.
func dialWith(t *testing.T, g *liveGateway, header http.Header) *sioclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.DialHeader(ctx, g.url, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func cookie(sid string) http.Header {
	return http.Header{"Cookie": {"theme=dark; session=" + sid}, "X-Client": {"test"}}
}

func connectNS(c *sioclient.Client, nsp string, auth any) error {
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, err := c.Connect(ctx, nsp, auth)
	return err
}

func refusalCode(err error) string {
	if e, ok := err.(*sioclient.ConnectError); ok {
		return e.Code()
	}
	return fmt.Sprintf("not a connect_error: %v", err)
}

func TestAuthorizerLetsACookieSessionInWithTheBackendsClaims(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "")
	c := dialWith(t, g, cookie("s-alice"))
	if err := connectNS(c, "/app", nil); err != nil {
		t.Fatal(err)
	}
	who := ackOf(t, c, "/app", "whoami", nil)
	if who["sub"] != "alice" || who["name"] != "Alice" || who["role"] != "member" {
		t.Fatalf("whoami = %v, want the session's claims", who)
	}
	sent := b.lastRequest()
	cookies, _ := sent["cookies"].(map[string]any)
	headers, _ := sent["headers"].(map[string]any)
	if len(cookies) != 1 || cookies["session"] != "s-alice" || headers["x-client"] != "test" ||
		sent["address"] != "127.0.0.1" || sent["namespace"] != "/app" || sent["reason"] != "connect" {
		t.Fatalf("the backend got %v; want only the session cookie, the X-Client header and the address", sent)
	}
}

func TestAuthorizerRefusalsReachTheClientAsConnectErrors(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "")
	cases := []struct {
		header          http.Header
		code, message   string
		backendIsCalled bool
	}{
		{nil, "unauthorized", "no session", true},
		{cookie("s-unknown"), "unauthorized", "no session", true},
		{cookie("s-banned"), "forbidden", "banned", true},
		// The backend allows a guest; the members claims guard does not.
		{cookie("s-guest"), "forbidden", "", true},
	}
	for _, tc := range cases {
		err := connectNS(dialWith(t, g, tc.header), "/app", nil)
		e, ok := err.(*sioclient.ConnectError)
		if !ok || e.Code() != tc.code || (tc.message != "" && e.Message != tc.message) {
			t.Errorf("cookie %v: %v, want %s %q", tc.header.Get("Cookie"), err, tc.code, tc.message)
		}
	}
}

func TestAuthorizerClaimsAreSeenByClaimsGuardsAndExpressions(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "")
	noname := dialWith(t, g, cookie("s-noname"))
	if err := connectNS(noname, "/app", nil); err != nil {
		t.Fatal(err)
	}
	if ack := ackOf(t, noname, "/app", "whoami", nil); !strings.Contains(fmt.Sprint(ack["error"]), "tell us your name") {
		t.Fatalf("whoami without a name claim = %v, want the expression guard's refusal", ack)
	}
	alice := dialWith(t, g, cookie("s-alice"))
	admin := dialWith(t, g, cookie("s-admin"))
	for _, c := range []*sioclient.Client{alice, admin} {
		if err := connectNS(c, "/app", nil); err != nil {
			t.Fatal(err)
		}
	}
	if ack := ackOf(t, alice, "/app", "admin_only", nil); !strings.Contains(fmt.Sprint(ack["error"]), "forbidden") {
		t.Fatalf("admin_only as a member = %v, want forbidden", ack)
	}
	if ack := ackOf(t, admin, "/app", "admin_only", nil); ack["ok"] != true {
		t.Fatalf("admin_only as an admin = %v", ack)
	}
}

func TestAuthorizerAfterATokenGetsItsClaimsAndAddsItsOwn(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "plan": "pro", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(authorizerTestSecret))
	if err != nil {
		t.Fatal(err)
	}
	c := dialWith(t, g, cookie("s-admin"))
	if err := connectNS(c, "/jwt", map[string]any{"token": token, "device": "phone"}); err != nil {
		t.Fatal(err)
	}
	sent := b.lastRequest()
	claims, _ := sent["claims"].(map[string]any)
	auth, _ := sent["auth"].(map[string]any)
	if claims["sub"] != "alice" || claims["plan"] != "pro" || auth["device"] != "phone" || auth["token"] != nil {
		t.Fatalf("the backend got %v; want the verified claims and the auth payload without its token", sent)
	}
	who := ackOf(t, c, "/jwt", "whoami", nil)
	if who["plan"] != "pro" || who["role"] != "admin" || who["sub"] != "root" {
		t.Fatalf("whoami = %v; want the token's claims with the answer's over them", who)
	}
	// Without a token the namespace refuses before asking the backend.
	calls := b.calls.Load()
	if err := connectNS(dialWith(t, g, cookie("s-admin")), "/jwt", nil); refusalCode(err) != "unauthorized" || b.calls.Load() != calls {
		t.Fatalf("no token: %v after %d backend calls; want unauthorized and none", err, b.calls.Load()-calls)
	}
}

func TestAuthRefreshRenewsTheTokenAndKeepsTheAuthorizersClaims(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "")
	sign := func(sub, plan string) string {
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "plan": plan, "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(authorizerTestSecret))
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	c := dialWith(t, g, cookie("s-alice"))
	if err := connectNS(c, "/jwt", map[string]any{"token": sign("alice", "pro")}); err != nil {
		t.Fatal(err)
	}
	if ack := ackOf(t, c, "/jwt", "auth:refresh", map[string]any{"token": sign("alice", "max")}); ack["ok"] != true {
		t.Fatalf("auth:refresh = %v", ack)
	}
	who := ackOf(t, c, "/jwt", "whoami", nil)
	if who["plan"] != "max" || who["role"] != "member" || who["name"] != "Alice" {
		t.Fatalf("whoami after auth:refresh = %v; want the new token's claims with the backend's over them", who)
	}
	if ack := ackOf(t, c, "/jwt", "auth:refresh", map[string]any{"token": sign("mallory", "max")}); ack["error"] == nil {
		t.Fatalf("a token of another subject renewed the socket's: %v", ack)
	}
	// On a namespace without a token, the backend's sub does not let a
	// token in through auth:refresh.
	app := dialWith(t, g, cookie("s-alice"))
	if err := connectNS(app, "/app", nil); err != nil {
		t.Fatal(err)
	}
	if ack := ackOf(t, app, "/app", "auth:refresh", map[string]any{"token": sign("alice", "max")}); ack["error"] == nil {
		t.Fatalf("auth:refresh on a socket that connected without a token = %v, want refused", ack)
	}
}

func TestAuthorizerCacheSparesTheBackendRepeatedConnects(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "      cache: {size: 100, ttl: 1m}")
	for range 5 {
		c := dialWith(t, g, cookie("s-alice"))
		if err := connectNS(c, "/app", nil); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("backend calls for 5 identical connects = %d, want 1", n)
	}
}

func TestAuthorizerRefreshKeepsASessionAndARefusalDisconnectsIt(t *testing.T) {
	b := newSessionBackend(t)
	b.lifetime.Store(1)
	g := startAuthorizedGateway(t, b, "")
	c := dialWith(t, g, cookie("s-alice"))
	if err := connectNS(c, "/app", nil); err != nil {
		t.Fatal(err)
	}
	// Three lifetimes: the socket is asked about before each ends.
	time.Sleep(3 * time.Second)
	if ack := ackOf(t, c, "/app", "whoami", nil); ack["sub"] != "alice" {
		t.Fatalf("after 3 lifetimes whoami = %v", ack)
	}
	if n := b.refresh.Load(); n < 2 {
		t.Fatalf("refresh calls = %d after 3 lifetimes", n)
	}
	b.revoked.Store("s-alice", true)
	deadline := time.After(limitsWait)
	var exception map[string]any
	for {
		select {
		case ev := <-c.Events():
			switch ev.Name {
			case "exception":
				_ = json.Unmarshal(ev.Args[0], &exception)
			case "disconnect":
				if exception["code"] != "unauthorized" || exception["message"] != "session ended" {
					t.Fatalf("disconnected after exception %v; want the refusal's code and message", exception)
				}
				return
			}
		case <-deadline:
			t.Fatalf("still connected %v after the session was revoked", limitsWait)
		}
	}
}

func TestAuthorizerRefusesAnOversizedPresentationWithoutCallingTheBackend(t *testing.T) {
	b := newSessionBackend(t)
	g := startAuthorizedGateway(t, b, "      max_request: 4KB")
	c := dialWith(t, g, cookie("s-alice"))
	err := connectNS(c, "/app", map[string]string{"pad": strings.Repeat("x", 8<<10)})
	if refusalCode(err) != "payload_too_large" || b.calls.Load() != 0 {
		t.Fatalf("%v after %d backend calls; want payload_too_large and none", err, b.calls.Load())
	}
	if n := g.gw.LimitRefusals()["authorizer_max_request"]; n != 1 {
		t.Fatalf("authorizer_max_request refusals counted: %d, want 1", n)
	}
}

// An attacker opens many sessions, each with a cookie of its own, while
// the backend is slow: the gateway keeps max_in_flight calls waiting and
// refuses the others at once, rather than hold a goroutine and a request
// for each until the timeout.
func TestAuthorizerRefusesConnectsBeyondMaxInFlightWhileTheBackendIsSlow(t *testing.T) {
	b := newSessionBackend(t)
	hold := make(chan struct{})
	b.hold.Store(&hold)
	g := startAuthorizedGateway(t, b, "      max_in_flight: 4\n      timeout: 30s\n      on_error: allow")
	const attempts = 24
	results := make(chan error, attempts)
	for i := range attempts {
		c := dialWith(t, g, cookie(fmt.Sprintf("s-attacker-%d", i)))
		go func() { results <- connectNS(c, "/app", nil) }()
	}
	refused := 0
	for range attempts - 4 {
		select {
		case err := <-results:
			if refusalCode(err) != "unavailable" {
				t.Fatalf("a connect beyond max_in_flight got %v, want unavailable", err)
			}
			refused++
		case <-time.After(limitsWait):
			t.Fatalf("%d of %d connects beyond max_in_flight refused within %v; the rest wait on the backend", refused, attempts-4, limitsWait)
		}
	}
	if n := b.maxSeen.Load(); n > 4 {
		t.Fatalf("the backend saw %d calls at once, max_in_flight is 4", n)
	}
	if n := g.gw.LimitRefusals()["authorizer_max_in_flight"]; n != uint64(refused) {
		t.Fatalf("authorizer_max_in_flight refusals counted: %d, want %d", n, refused)
	}
	close(hold)
	b.hold.Store(nil)
	for range 4 {
		if err := <-results; refusalCode(err) != "unauthorized" {
			t.Fatalf("a held connect got %v once the backend answered, want its refusal", err)
		}
	}
}

// upgradeAuthorizerConfig asks the authorizer of /up at the handshake;
// /open has none.
const upgradeAuthorizerConfig = `
namespaces:
  /up:
    authorizer:
      url: %s
      at: upgrade
      cookies: [session]
    events:
      whoami:
        handler:
          reply: {value: user}
  /open:
    events:
      whoami:
        handler:
          reply: {value: user}
`

func TestUpgradeAuthorizerDecidesOnceForTheWholeConnection(t *testing.T) {
	b := newSessionBackend(t)
	g := startLiveGateway(t, fmt.Sprintf(upgradeAuthorizerConfig, b.srv.URL), Registries{})
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	for _, tc := range []struct {
		header http.Header
		status string
	}{{nil, "status 401"}, {cookie("s-banned"), "status 403"}} {
		if _, err := sioclient.DialHeader(ctx, g.url, tc.header); err == nil || !strings.Contains(err.Error(), tc.status) {
			t.Fatalf("handshake with %v: %v, want %s", tc.header.Get("Cookie"), err, tc.status)
		}
	}
	calls := b.calls.Load()
	c := dialWith(t, g, cookie("s-alice"))
	for _, nsp := range []string{"/up", "/open"} {
		if err := connectNS(c, nsp, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.calls.Load() - calls; n != 1 {
		t.Fatalf("backend calls for one handshake and two CONNECTs = %d, want 1", n)
	}
	if who := ackOf(t, c, "/up", "whoami", nil); who["sub"] != "alice" || who["role"] != "member" {
		t.Fatalf("whoami on /up = %v, want the answer's claims", who)
	}
	if who := ackOf(t, c, "/open", "whoami", nil); len(who) != 0 {
		t.Fatalf("whoami on /open = %v: the answer is /up's alone", who)
	}
}

func TestUpgradeAuthorizerAnswerIsRefreshedOnTheSocket(t *testing.T) {
	b := newSessionBackend(t)
	b.lifetime.Store(1)
	g := startLiveGateway(t, fmt.Sprintf(upgradeAuthorizerConfig, b.srv.URL), Registries{})
	c := dialWith(t, g, cookie("s-alice"))
	if err := connectNS(c, "/up", nil); err != nil {
		t.Fatal(err)
	}
	b.revoked.Store("s-alice", true)
	select {
	case ev := <-c.Events():
		var e map[string]any
		if ev.Name != "exception" || json.Unmarshal(ev.Args[0], &e) != nil || e["code"] != "unauthorized" {
			t.Fatalf("got %s %s, want the refresh's refusal", ev.Name, ev.Args)
		}
	case <-time.After(limitsWait):
		t.Fatalf("no refusal %v after the session was revoked, with answers of 1s", limitsWait)
	}
	if b.refresh.Load() == 0 {
		t.Fatal("the backend was not asked again")
	}
}

// Handshakes, which need no token, are what an attacker sends first: with
// the backend stalled, those beyond max_in_flight are answered 503 at once
// instead of holding a request each until the timeout.
func TestUpgradeAuthorizerRefusesHandshakesBeyondMaxInFlightWhileTheBackendIsSlow(t *testing.T) {
	b := newSessionBackend(t)
	hold := make(chan struct{})
	b.hold.Store(&hold)
	text := strings.Replace(fmt.Sprintf(upgradeAuthorizerConfig, b.srv.URL), "      at: upgrade\n",
		"      at: upgrade\n      max_in_flight: 2\n      timeout: 30s\n", 1)
	g := startLiveGateway(t, text, Registries{})
	const attempts = 10
	statuses := make(chan int, attempts)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range attempts {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, "http://"+g.addr+"/socket.io/?EIO=4&transport=polling", nil)
			req.Header.Set("Cookie", fmt.Sprintf("session=s-attacker-%d", i))
			resp, err := client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range attempts - 2 {
		select {
		case status := <-statuses:
			if status != http.StatusServiceUnavailable {
				t.Fatalf("a handshake beyond max_in_flight got %d, want 503", status)
			}
		case <-time.After(limitsWait):
			t.Fatalf("handshakes beyond max_in_flight not answered within %v", limitsWait)
		}
	}
	close(hold)
	b.hold.Store(nil)
	for range 2 {
		if status := <-statuses; status != http.StatusUnauthorized {
			t.Fatalf("a held handshake got %d once the backend answered, want 401", status)
		}
	}
	if n := g.gw.LimitRefusals()["authorizer_max_in_flight"]; n != attempts-2 {
		t.Fatalf("authorizer_max_in_flight refusals counted: %d, want %d", n, attempts-2)
	}
}
