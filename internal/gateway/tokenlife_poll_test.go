package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// pollClient is an Engine.IO long-polling client that repeats its
// handshake's query (the token included) on every request, as
// socket.io-client does.
type pollClient struct {
	t     *testing.T
	base  string // http://host:port/socket.io/
	query url.Values
	sid   string
	http  *http.Client
}

// openPolling performs the polling handshake with the query token token.
func openPolling(t *testing.T, addr, token string) *pollClient {
	t.Helper()
	p := &pollClient{
		t:     t,
		base:  "http://" + addr + "/socket.io/",
		query: url.Values{"EIO": {"4"}, "transport": {"polling"}, "token": {token}},
		http:  &http.Client{Timeout: limitsWait},
	}
	status, body := p.do(http.MethodGet, "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("polling handshake: %d %s", status, body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", body, err)
	}
	p.sid = open.SID
	p.query.Set("sid", p.sid)
	return p
}

// do sends one request with the client's query and returns the status and
// body.
func (p *pollClient) do(method, body string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+"?"+p.query.Encode(), strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// send posts Engine.IO packets and fails the test unless they are taken.
func (p *pollClient) send(packets ...string) {
	p.t.Helper()
	if status, body := p.do(http.MethodPost, strings.Join(packets, "\x1e")); status != http.StatusOK {
		p.t.Fatalf("POST %q: %d %s", packets, status, body)
	}
}

// poll waits for the packets the server has for the client.
func (p *pollClient) poll() []string {
	p.t.Helper()
	status, body := p.do(http.MethodGet, "")
	if status != http.StatusOK {
		p.t.Fatalf("poll: %d %s", status, body)
	}
	return strings.Split(body, "\x1e")
}

// pollFor polls until a packet starting with prefix arrives and returns it
// with every packet seen on the way.
func (p *pollClient) pollFor(prefix string) (string, []string) {
	p.t.Helper()
	var seen []string
	deadline := time.Now().Add(limitsWait)
	for time.Now().Before(deadline) {
		for _, packet := range p.poll() {
			seen = append(seen, packet)
			if strings.HasPrefix(packet, prefix) {
				return packet, seen
			}
		}
	}
	p.t.Fatalf("no packet %q within %s; seen %q", prefix, limitsWait, seen)
	return "", nil
}

func TestPollingSessionOutlivesItsQueryTokenAfterRefresh(t *testing.T) {
	g, _ := startTokenLifeGateway(t, "disconnect", "0s")
	token, exp := shortLivedToken(t, "alice")
	p := openPolling(t, g.addr, token)
	p.send("40/chat,")
	p.pollFor("40/chat,")

	fresh := lifeToken(t, map[string]any{"sub": "alice", "refreshed": true})
	p.send(`42/chat,1["auth:refresh",{"token":"` + fresh + `"}]`)
	if ack, _ := p.pollFor("43/chat,1"); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("auth:refresh acked %s", ack)
	}

	// Past the query token's exp, every request still carries it.
	sleepPast(exp)
	if status, body := p.do(http.MethodPost, `42/chat,2["whoami"]`); status != http.StatusOK {
		t.Fatalf("POST after the query token's exp, the socket's token refreshed: %d %s", status, body)
	}
	ack, seen := p.pollFor("43/chat,2")
	if !strings.Contains(ack, `"refreshed":true`) {
		t.Fatalf("whoami after the refresh = %s, want the refreshed claims", ack)
	}
	for _, packet := range seen {
		if strings.HasPrefix(packet, "41/chat") || strings.Contains(packet, "token_expired") {
			t.Fatalf("the refreshed socket was told %q", packet)
		}
	}

	// The upgrade to WebSocket (the probe) carries the same query.
	wsURL := "ws://" + g.addr + "/socket.io/?" + strings.Replace(p.query.Encode(), "transport=polling", "transport=websocket", 1)
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("WebSocket probe of the session after the query token's exp: status %d: %v", status, err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(limitsWait))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, answer, err := ws.ReadMessage(); err != nil || string(answer) != "3probe" {
		t.Fatalf("probe answered %q, %v", answer, err)
	}
}

func TestPollingSocketWithoutRefreshEndsAtItsTokenExpiry(t *testing.T) {
	g, _ := startTokenLifeGateway(t, "disconnect", "0s")
	token, _ := shortLivedToken(t, "alice")
	p := openPolling(t, g.addr, token)
	p.send("40/chat,")
	p.pollFor("40/chat,")
	// The socket's own expiry watch ends it: first the exception, then
	// the namespace DISCONNECT, both read by polls that carry the dead
	// query token.
	_, seen := p.pollFor("41/chat,")
	if joined := strings.Join(seen, " "); !strings.Contains(joined, `"exception"`) || !strings.Contains(joined, "token_expired") {
		t.Fatalf("packets before the DISCONNECT: %q, want an exception token_expired", seen)
	}
}

func TestRequestsWithSessionIDAreLeftToTheSession(t *testing.T) {
	g, _ := startTokenLifeGateway(t, "disconnect", "0s")
	valid := lifeToken(t, map[string]any{"sub": "alice"})
	tests := []struct {
		name       string
		query      url.Values
		wantStatus int
		wantBody   string
	}{
		{"unknown sid with a valid token", url.Values{"sid": {"AAAAAAAAAAAAAAAAAAAA"}, "token": {valid}}, http.StatusBadRequest, `"code":1`},
		{"unknown sid with an invalid token", url.Values{"sid": {"AAAAAAAAAAAAAAAAAAAA"}, "token": {"garbage"}}, http.StatusBadRequest, `"code":1`},
		{"handshake with an invalid token", url.Values{"token": {"garbage"}}, http.StatusUnauthorized, `"code":"unauthorized"`},
		{"handshake with a valid token", url.Values{"token": {valid}}, http.StatusOK, `"sid"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.query.Set("EIO", "4")
			tc.query.Set("transport", "polling")
			resp, err := http.Get("http://" + g.addr + "/socket.io/?" + tc.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %s, want %d with %s", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, resp, err := websocket.DefaultDialer.DialContext(ctx,
		"ws://"+g.addr+"/socket.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA&token="+valid, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("WebSocket with an unknown sid: %v, %v; want 400", resp, err)
	}
}
