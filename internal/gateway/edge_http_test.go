package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const edgeConfig = `
server:
  max_payload: 1MB
  limits:
    body_timeout: 1s
    max_tcp_connections_per_ip: %d
api:
  keys: ["k"]
namespaces:
  /a:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
`

func startEdgeGateway(t testing.TB, tcpPerIP int) *liveGateway {
	t.Helper()
	return startLiveGateway(t, fmt.Sprintf(edgeConfig, tcpPerIP), Registries{})
}

// sendHead opens a connection and sends a request's headers declaring
// length bytes of body, then the first sent bytes of it.
func sendHead(t testing.TB, addr, method, path string, length, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", method, path, length)
	if _, err := conn.Write(append([]byte(head), make([]byte, sent)...)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads one HTTP answer and its C2 code.
func readAnswer(t testing.TB, conn net.Conn, within time.Duration) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", within, err)
	}
	defer resp.Body.Close()
	var body struct {
		Code string `json:"code"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return resp, body.Code
}

func TestBodyDeclaredOverMaxPayloadIsRefusedWith413AtOnceOnEveryPath(t *testing.T) {
	g := startEdgeGateway(t, 0)
	paths := []struct{ method, path string }{
		{"POST", "/socket.io/?EIO=4&transport=polling&sid=unknown"},
		{"POST", "/api/v1/emit"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/metrics"},
		{"POST", "/no/such/path"},
	}
	for _, p := range paths {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			// 2 GB declared, one byte sent: the answer cannot wait for the
			// rest, nor may anything of that size be set aside.
			conn := sendHead(t, g.addr, p.method, p.path, 2<<30, 1)
			defer conn.Close()
			resp, code := readAnswer(t, conn, limitsWait)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || code != "payload_too_large" {
				t.Fatalf("answer %d %q, want 413 payload_too_large", resp.StatusCode, code)
			}
			if !resp.Close {
				t.Error("the connection is kept open after a refused body")
			}
		})
	}
	if got := g.gw.LimitRefusals()[limitMaxPayload]; got != uint64(len(paths)) {
		t.Errorf("%s refusals = %d, want %d", limitMaxPayload, got, len(paths))
	}
}

func TestChunkedBodyOverMaxPayloadIsRefusedOnceItGoesPast(t *testing.T) {
	g := startEdgeGateway(t, 0)
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /api/v1/emit HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("a", 64<<10))
	go func() {
		// 2 MB in 64 KiB chunks, never the last chunk.
		for range 32 {
			if _, err := io.WriteString(conn, chunk); err != nil {
				return
			}
		}
	}()
	resp, code := readAnswer(t, conn, limitsWait)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || code != "payload_too_large" {
		t.Fatalf("answer %d %q, want 413 payload_too_large", resp.StatusCode, code)
	}
}

func TestBodiesWithinMaxPayloadStillReachTheirHandlers(t *testing.T) {
	g := startEdgeGateway(t, 0)
	body := `{"namespace":"/a","event":"news","data":"` + strings.Repeat("x", 100<<10) + `"}`
	req, _ := http.NewRequest("POST", "http://"+g.addr+"/api/v1/emit", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emit of %d bytes: %d %s", len(body), resp.StatusCode, raw)
	}
}

// TestTricklingBodiesHoldAboutWhatTheySentAndAreCutAtBodyTimeout is the
// slow-body attack: connections that declare a body of nearly max_payload
// and trickle it. The gateway may hold what they sent, not what they
// declared, and only until body_timeout (1s here, not the long-poll hold).
func TestTricklingBodiesHoldAboutWhatTheySentAndAreCutAtBodyTimeout(t *testing.T) {
	g := startEdgeGateway(t, 0)
	n := edgeScale(40, 500)
	const declared, sent = 1000 << 10, 4 << 10
	// What a connection may cost besides the bytes it sent: fasthttp's
	// 32 KiB read buffer, its request context and goroutine.
	const budgetPerConn = sent + 64<<10

	before := heapInUse()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = sendHead(t, g.addr, "POST", "/api/v1/emit", declared, sent)
		defer conns[i].Close()
	}
	// Every connection's bytes are in once its request is being read:
	// wait until the last one was accepted and read.
	time.Sleep(300 * time.Millisecond)
	held := heapInUse() - before
	t.Logf("%d connections declaring %d bytes, %d sent: heap grew %d KiB (%d KiB each)",
		n, declared, sent, held>>10, held/int64(n)>>10)
	if held > int64(n*budgetPerConn) {
		t.Errorf("heap grew %d KiB for %d connections, over the budget of %d KiB each", held>>10, n, budgetPerConn>>10)
	}

	start := time.Now()
	for _, conn := range conns {
		resp, code := readAnswer(t, conn, limitsWait)
		if resp.StatusCode != http.StatusRequestTimeout || code != "invalid_payload" {
			t.Fatalf("answer %d %q, want 408 invalid_payload", resp.StatusCode, code)
		}
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("bodies cut after %v, want about body_timeout (1s)", waited)
	}
	if got := g.gw.LimitRefusals()[limitBodyTimeout]; got != uint64(n) {
		t.Errorf("%s refusals = %d, want %d", limitBodyTimeout, got, n)
	}
}

// dialSilent opens a TCP connection that sends nothing.
func dialSilent(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// refusedAtAccept reports whether conn is answered 429 rate_limited and
// closed without having sent anything.
func refusedAtAccept(t testing.TB, conn net.Conn) bool {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode == http.StatusTooManyRequests && body.Code == "rate_limited"
}

func TestTCPConnectionsPerAddressAreCappedBeforeAnyRequest(t *testing.T) {
	g := startEdgeGateway(t, 3)
	// Two WebSocket sessions keep their connection once hijacked, a third
	// connection sends nothing at all: the address has its three.
	ws1 := g.dial(t, "/a")
	g.dial(t, "/a")
	dialSilent(t, g.addr)

	over := dialSilent(t, g.addr)
	if !refusedAtAccept(t, over) {
		t.Fatal("a fourth connection from the address was not refused with 429 rate_limited")
	}
	if got := g.gw.LimitRefusals()[limitTCPConnsPerIP]; got != 1 {
		t.Errorf("%s refusals = %d, want 1", limitTCPConnsPerIP, got)
	}

	// A closed WebSocket gives its place back.
	_ = ws1.Close()
	deadline := time.Now().Add(limitsWait)
	for {
		conn := dialSilent(t, g.addr)
		if !refusedAtAccept(t, conn) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the place of a closed WebSocket was never given back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReadLimitedReadsBodiesUpToTheLimitWhateverTheReads(t *testing.T) {
	const limit = 40000
	body := func(n int) []byte { return bytes.Repeat([]byte("b"), n) }
	tests := []struct {
		name     string
		sent     int
		declared int // -1: chunked, unknown
		tooLarge bool
	}{
		{"empty", 0, 0, false},
		{"small, declared", 100, 100, false},
		{"several pieces, declared", 2*bodyChunk + 5, 2*bodyChunk + 5, false},
		{"several pieces, chunked", 2*bodyChunk + 5, -1, false},
		{"declared over the limit", limit + 10, limit + 10, true},
		{"exactly the limit, declared", limit, limit, false},
		{"exactly the limit, chunked", limit, -1, false},
		{"one byte over, chunked", limit + 1, -1, true},
		{"far over, chunked", 3 * limit, -1, true},
	}
	for _, tc := range tests {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "byte by byte": iotest.OneByteReader, "EOF with data": iotest.DataErrReader,
		} {
			got, err := readLimited(wrap(bytes.NewReader(body(tc.sent))), limit, tc.declared)
			switch {
			case tc.tooLarge && !errors.Is(err, errBodyTooLarge):
				t.Errorf("%s, %s: %d bytes, %v; want errBodyTooLarge", tc.name, name, len(got), err)
			case !tc.tooLarge && (err != nil || !bytes.Equal(got, body(tc.sent))):
				t.Errorf("%s, %s: %d bytes, %v; want the %d bytes sent", tc.name, name, len(got), err, tc.sent)
			}
		}
	}
}

func TestTCPConnectionCapUnderTLSClosesWithoutAByteAndFollowsAReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "edge")
	text := func(limit int) string {
		return strings.Replace(tlsConfigText(cert, key), "server:\n", fmt.Sprintf("server:\n  limits: {max_tcp_connections_per_ip: %d}\n", limit), 1)
	}
	g := startLiveGateway(t, text(1), Registries{})
	dialSilent(t, g.addr)

	over := dialSilent(t, g.addr)
	_ = over.SetReadDeadline(time.Now().Add(limitsWait))
	if n, err := over.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("a connection over the limit read %d bytes, %v; want it closed without a byte (no TLS handshake yet)", n, err)
	}

	next, err := gatewayconfig.Parse(filepath.Join(dir, "gateway.yaml"), []byte(text(2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.gw.Reload(context.Background(), next); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := servedCommonName(t, g.addr); got != "edge" {
		t.Fatalf("after raising the limit, served %q", got)
	}
}
