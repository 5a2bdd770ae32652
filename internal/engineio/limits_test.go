package engineio

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	fws "github.com/fasthttp/websocket"
)

// refusalLog records what Options.Refused is told.
type refusalLog struct {
	mu      sync.Mutex
	reasons []string
}

func (l *refusalLog) record(reason, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reasons = append(l.reasons, reason+"@"+ip)
}

func (l *refusalLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reasons)
}

// expectUnavailable checks a 503 with the gateway's JSON refusal.
func expectUnavailable(t *testing.T, resp response, message string) {
	t.Helper()
	if resp.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d (%s), want 503", resp.status, resp.body)
	}
	var body unavailableError
	if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.body, err)
	}
	if body.Code != "unavailable" || body.Message != message {
		t.Fatalf("body %+v, want code unavailable and message %q", body, message)
	}
	if resp.header.Get("Retry-After") == "" {
		t.Error("no Retry-After header")
	}
}

// dialRefused dials a WebSocket handshake that must be refused before the
// upgrade, with a status the client can read.
func dialRefused(t *testing.T, ts *testServer) int {
	t.Helper()
	conn, resp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), nil)
	if err == nil {
		conn.Close()
		t.Fatal("the WebSocket handshake was accepted")
	}
	if resp == nil {
		t.Fatalf("dial: %v, with no HTTP answer", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSessionLimitsRefuseHandshakesOverTheLimit(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		reason  string
		message string
	}{
		{"per address", Options{MaxSessionsPerIP: 2, MaxSessions: 100}, "max_connections_per_ip", "too many connections from this address"},
		{"in total", Options{MaxSessions: 2}, "max_connections", "the server is at its connection limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused := &refusalLog{}
			tc.opts.Refused = refused.record
			rec := newRecorder(false)
			ts := startServer(t, tc.opts, rec)

			first := ts.handshakePolling(t)
			ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
			defer ws.Close()
			readOpen(t, ws)

			expectUnavailable(t, ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", nil), tc.message)
			if status := dialRefused(t, ts); status != http.StatusServiceUnavailable {
				t.Fatalf("WebSocket handshake status %d, want 503", status)
			}
			want := []string{tc.reason + "@127.0.0.1", tc.reason + "@127.0.0.1"}
			if got := refused.all(); !slices.Equal(got, want) {
				t.Errorf("refusals reported %v, want %v", got, want)
			}

			// A session that ends gives its place back.
			if resp := ts.post(t, first.SID, "1"); resp.status != http.StatusOK {
				t.Fatalf("close POST status %d", resp.status)
			}
			eventually(t, "the closed session is forgotten", func() bool { return ts.srv.lookup(first.SID) == nil })
			ts.handshakePolling(t)
		})
	}
}

func TestSessionLimitsChangeWhileServing(t *testing.T) {
	ts := startServer(t, Options{MaxSessions: 1}, newRecorder(false))
	ts.handshakePolling(t)
	expectUnavailable(t, ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", nil), "the server is at its connection limit")

	ts.srv.SetSessionLimits(2, 0)
	ts.handshakePolling(t)
	ts.srv.SetSessionLimits(0, 0)
	for range 3 {
		ts.handshakePolling(t)
	}
	if n := ts.srv.SessionCount(); n != 5 {
		t.Errorf("%d sessions open, want 5", n)
	}
}

func TestStopAcceptingRefusesNewSessionsAndKeepsOpenOnes(t *testing.T) {
	refused := &refusalLog{}
	rec := newRecorder(true)
	ts := startServer(t, Options{Refused: refused.record}, rec)
	open := ts.handshakePolling(t)
	rec.nextConn(t)

	ts.srv.StopAccepting()

	expectUnavailable(t, ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", nil), "the server is shutting down")
	if status := dialRefused(t, ts); status != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket handshake status %d, want 503", status)
	}
	if resp := ts.post(t, open.SID, "4hello"); resp.status != http.StatusOK {
		t.Fatalf("POST on the open session: status %d", resp.status)
	}
	rec.expectMessage(t, "hello", false)
	if resp := ts.poll(t, open.SID); resp.status != http.StatusOK || resp.body != "4hello" {
		t.Fatalf("GET on the open session: %d %q, want the echo", resp.status, resp.body)
	}
	if got := refused.all(); !slices.Equal(got, []string{"shutting_down@127.0.0.1", "shutting_down@127.0.0.1"}) {
		t.Errorf("refusals reported %v", got)
	}
}
