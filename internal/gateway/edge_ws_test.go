package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// firstFragment is a client's masked text frame without FIN: the start of
// a message whose end never comes.
func firstFragment(payload []byte) []byte {
	frame := []byte{0x01, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, uint64(len(payload)))
	frame = append(frame, 0, 0, 0, 0) // the all-zero mask
	return append(frame, payload...)
}

func TestUnfinishedWebSocketMessageIsClosedAndCountedAtMessageTimeout(t *testing.T) {
	g := startLiveGateway(t, `
server:
  limits:
    message_timeout: 500ms
namespaces:
  /a: {}
`, Registries{})
	ws, resp, err := websocket.DefaultDialer.Dial(g.url+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(limitsWait))
	if _, _, err := ws.ReadMessage(); err != nil { // the open packet
		t.Fatal(err)
	}
	if _, err := ws.UnderlyingConn().Write(firstFragment([]byte("4" + strings.Repeat("x", 64<<10)))); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := ws.ReadMessage()
		var closed *websocket.CloseError
		if errors.As(err, &closed) {
			if closed.Code != websocket.ClosePolicyViolation {
				t.Fatalf("closed with %d %q, want 1008", closed.Code, closed.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("not closed with a close frame: %v", err)
		}
	}
	if got := g.gw.LimitRefusals()[engineio.RefusedMessageTimeout]; got != 1 {
		t.Errorf("%s refusals = %d, want 1", engineio.RefusedMessageTimeout, got)
	}
}

func TestRefusedOriginIsCountedUnderOneLimitName(t *testing.T) {
	g := startLiveGateway(t, `
server:
  allowed_origins: ["https://app.example"]
namespaces:
  /a: {}
`, Registries{})
	for _, origin := range []string{"https://evil.example", "https://other.example", "null"} {
		req, _ := http.NewRequest("GET", "http://"+g.addr+"/socket.io/?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %s: status %d, want 403", origin, resp.StatusCode)
		}
	}
	if got := g.gw.LimitRefusals()[limitAllowedOrigins]; got != 3 {
		t.Errorf("%s refusals = %d, want 3", limitAllowedOrigins, got)
	}
}

func TestRefusedOriginLogLineNamesOriginAndPath(t *testing.T) {
	var mu sync.Mutex
	var lines bytes.Buffer
	log := newRefusalLog(newTestLogger(&mu, &lines))
	log.originRefused("https://evil.example", "/socket.io/", "192.0.2.1")
	log.originRefused("https://evil.example", "/socket.io/", "192.0.2.1") // within the interval: counted only
	mu.Lock()
	defer mu.Unlock()
	out := lines.String()
	for _, want := range []string{"limit=allowed_origins", "origin=https://evil.example", "path=/socket.io/", "ip=192.0.2.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d log lines for two refusals within the interval, want 1", n)
	}
}
