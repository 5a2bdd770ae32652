package engineio

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	fws "github.com/fasthttp/websocket"
)

// originLog records what Options.RefusedOrigin is told.
type originLog struct {
	mu      sync.Mutex
	entries []string
}

func (l *originLog) record(origin, path, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, origin+" "+path+" "+ip)
}

func (l *originLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

func TestWildcardOriginAllowsAnyOriginWithoutCredentials(t *testing.T) {
	tests := []struct {
		name            string
		allowed         []string
		origin          string
		wantOrigin      string
		wantCredentials string
	}{
		{"wildcard alone", []string{"*"}, "https://any.example", "*", ""},
		{"wildcard beside a listed origin, another origin", []string{"https://app.example", "*"}, "https://any.example", "*", ""},
		{"wildcard beside a listed origin, that origin", []string{"https://app.example", "*"}, "https://app.example", "https://app.example", "true"},
		{"listed origin", []string{"https://app.example"}, "https://app.example", "https://app.example", "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Options{AllowedOrigins: tc.allowed}, newRecorder(false))
			for _, method := range []string{http.MethodGet, http.MethodOptions} {
				resp := ts.do(t, method, ts.url("EIO=4&transport=polling"), "", http.Header{"Origin": {tc.origin}})
				if resp.status >= 300 {
					t.Fatalf("%s status %d: %s", method, resp.status, resp.body)
				}
				if got := resp.header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
					t.Errorf("%s Access-Control-Allow-Origin %q, want %q", method, got, tc.wantOrigin)
				}
				if got := resp.header.Get("Access-Control-Allow-Credentials"); got != tc.wantCredentials {
					t.Errorf("%s Access-Control-Allow-Credentials %q, want %q", method, got, tc.wantCredentials)
				}
			}
		})
	}
}

func TestWildcardOriginOpensWebSocketsFromAnyOrigin(t *testing.T) {
	ts := startServer(t, Options{AllowedOrigins: []string{"*"}}, newRecorder(false))
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", http.Header{"Origin": {"https://any.example"}})
	readOpen(t, ws)
	ws.Close()
}

func TestRefusedOriginIsReportedWithOriginPathAndAddress(t *testing.T) {
	refused := &originLog{}
	ts := startServer(t, Options{AllowedOrigins: []string{"https://app.example"}, RefusedOrigin: refused.record}, newRecorder(false))
	resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", http.Header{"Origin": {"https://evil.example"}})
	expectProtocolError(t, resp, http.StatusForbidden, codeForbidden)
	conn, wsResp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), http.Header{"Origin": {"https://evil.example"}})
	if err == nil {
		conn.Close()
		t.Fatal("a foreign origin opened a WebSocket")
	}
	if wsResp != nil {
		wsResp.Body.Close()
	}
	want := []string{"https://evil.example /socket.io/ 127.0.0.1", "https://evil.example /socket.io/ 127.0.0.1"}
	if got := refused.all(); !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}
