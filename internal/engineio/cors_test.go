package engineio

import (
	"net/http"
	"slices"
	"strings"
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

func TestSameOriginPageConnectsWithoutAllowList(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  func(addr string) string
		allow   bool
	}{
		{"the gateway's own origin", nil, func(addr string) string { return "http://" + addr }, true},
		{"own origin, scheme and host in capitals", nil, func(addr string) string { return "HTTP://" + strings.ToUpper(addr) }, true},
		{"own origin beside a list that does not name it", []string{"https://app.example"}, func(addr string) string { return "http://" + addr }, true},
		{"own host over another scheme", nil, func(addr string) string { return "https://" + addr }, false},
		{"own host on another port", nil, func(addr string) string { return "http://" + strings.Split(addr, ":")[0] + ":1" }, false},
		{"another host", nil, func(string) string { return "http://evil.example" }, false},
		{"own origin as a prefix of another host", nil, func(addr string) string { return "http://" + addr + ".evil.example" }, false},
		{"not an origin", nil, func(addr string) string { return addr }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Options{AllowedOrigins: tc.allowed}, newRecorder(false))
			header := http.Header{"Origin": {tc.origin(ts.addr)}}
			resp := ts.do(t, http.MethodGet, ts.url("EIO=4&transport=polling"), "", header)
			conn, wsResp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), header)
			if wsResp != nil {
				wsResp.Body.Close()
			}
			if !tc.allow {
				expectProtocolError(t, resp, http.StatusForbidden, codeForbidden)
				if err == nil {
					conn.Close()
					t.Fatal("the WebSocket opened")
				}
				return
			}
			if resp.status != http.StatusOK {
				t.Fatalf("polling handshake: status %d: %s", resp.status, resp.body)
			}
			if err != nil {
				t.Fatalf("WebSocket: %v", err)
			}
			readOpen(t, conn)
			conn.Close()
		})
	}
}

func TestSameOriginLeavesOutDefaultPorts(t *testing.T) {
	tests := []struct {
		scheme, host, origin string
		want                 bool
	}{
		{"http", "gw.example", "http://gw.example:80", true},
		{"http", "gw.example:80", "http://gw.example", true},
		{"https", "gw.example:443", "https://gw.example", true},
		{"https", "gw.example", "https://gw.example:443", true},
		{"http", "gw.example:443", "http://gw.example", false},
		{"http", "gw.example:8080", "http://gw.example", false},
	}
	for _, tc := range tests {
		got := withoutDefaultPort(tc.scheme, strings.TrimPrefix(tc.origin, tc.scheme+"://")) == withoutDefaultPort(tc.scheme, tc.host)
		if got != tc.want {
			t.Errorf("%s host %q, Origin %q: same origin %v, want %v", tc.scheme, tc.host, tc.origin, got, tc.want)
		}
	}
}
