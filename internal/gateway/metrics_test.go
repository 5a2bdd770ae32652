package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

const metricsTestSecret = "metrics-test-secret"

const metricsTestConfig = `
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
guards:
  message_body:
    schema:
      type: object
      required: [message]
      properties:
        message: {type: string, minLength: 1}
namespaces:
  /chat:
    auth: required
    events:
      sendMessage:
        guards: [message_body]
        handler:
          broadcast:
            event: message
            data: '{"message": data.message}'
            reply: '{"ok": true}'
`

// serveGateway builds a gateway from text and serves it on a free loopback
// port until the test ends; it returns the address.
func serveGateway(t *testing.T, text string) string {
	t.Helper()
	return startLiveGateway(t, text, Registries{}).addr
}

func signedToken(t *testing.T, sub string) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(metricsTestSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// joinChat sends a CONNECT to /chat with token.
func joinChat(t *testing.T, c *sioclient.Client, token string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, err := c.Connect(ctx, "/chat", map[string]string{"token": token})
	return err
}

// scrape fetches the metrics and returns each sample by its series, as
// written: name{label="value",...} with labels in name order.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d, %v", resp.StatusCode, err)
	}
	samples := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// series names one sample the way the text format writes it.
func series(name string, labels ...string) string {
	type pair struct{ name, value string }
	var pairs []pair
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, pair{labels[i], labels[i+1]})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	if len(pairs) == 0 {
		return name
	}
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.name + `="` + p.value + `"`
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// awaitSample scrapes until the series has the value; some counts are
// taken just after the client has been answered.
func awaitSample(t *testing.T, addr, s string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, ok := scrape(t, addr)[s]
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present: %v), want %v", s, got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsMoveAsEventsFlow(t *testing.T) {
	g := startLiveGateway(t, metricsTestConfig, Registries{})
	addr := g.addr
	before := scrape(t, addr)
	for _, s := range []string{
		series("gatehouse_events_total", "namespace", "/chat", "event", "sendMessage", "code", "ok"),
		series("gatehouse_connects_total", "namespace", "/chat"),
	} {
		if _, ok := before[s]; ok {
			t.Fatalf("%s is reported before anything happened", s)
		}
	}
	if before[series("gatehouse_adapter_up", "adapter", "memory")] != 1 {
		t.Errorf("the memory adapter is not reported up")
	}

	// A token that does not verify is refused at the upgrade request.
	resp, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling&token=not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with a bad token: status %d", resp.StatusCode)
	}

	// ... and at the namespace CONNECT.
	var refusal *sioclient.ConnectError
	if err := joinChat(t, g.dial(t, ""), "not-a-token"); !errors.As(err, &refusal) || refusal.Code() != "unauthorized" {
		t.Fatalf("CONNECT with a bad token: %v", err)
	}

	sender, listener := g.dial(t, ""), g.dial(t, "")
	for _, c := range []*sioclient.Client{sender, listener} {
		if err := joinChat(t, c, signedToken(t, "alice")); err != nil {
			t.Fatalf("CONNECT: %v", err)
		}
	}

	if ack := ackOf(t, sender, "/chat", "sendMessage", map[string]string{"message": "hi"}); ack["ok"] != true {
		t.Fatalf("sendMessage ack = %v", ack)
	}
	select {
	case ev := <-listener.Events():
		if ev.Name != "message" {
			t.Fatalf("listener got %q, want the broadcast message", ev.Name)
		}
	case <-time.After(limitsWait):
		t.Fatal("the listener did not receive the broadcast")
	}
	if ack := ackOf(t, sender, "/chat", "sendMessage", map[string]string{}); errorCode(ack) != "invalid_payload" {
		t.Fatalf("invalid sendMessage ack = %v", ack)
	}
	if ack := ackOf(t, sender, "/chat", "noSuchEvent", nil); errorCode(ack) != "unknown_event" {
		t.Fatalf("unknown event ack = %v", ack)
	}

	got := scrape(t, addr)
	tests := []struct {
		series string
		want   float64
	}{
		{series("gatehouse_upgrades_refused_total", "code", "unauthorized"), 1},
		{series("gatehouse_connects_refused_total", "namespace", "/chat", "code", "unauthorized"), 1},
		{series("gatehouse_events_total", "namespace", "/chat", "event", "sendMessage", "code", "ok"), 1},
		{series("gatehouse_events_total", "namespace", "/chat", "event", "sendMessage", "code", "invalid_payload"), 1},
		{series("gatehouse_events_total", "namespace", "/chat", "event", "_unknown", "code", "unknown_event"), 1},
		{series("gatehouse_guard_denials_total", "guard", "message_body", "code", "invalid_payload"), 1},
		{series("gatehouse_broadcasts_total", "namespace", "/chat"), 1},
		{series("gatehouse_broadcast_deliveries_total", "namespace", "/chat"), 2},
		{series("gatehouse_handler_duration_seconds_count", "namespace", "/chat", "event", "sendMessage", "handler", "broadcast"), 1},
		{series("gatehouse_engineio_sessions"), 3},
	}
	for _, tt := range tests {
		if v, ok := got[tt.series]; !ok || v != tt.want {
			t.Errorf("%s = %v (present: %v), want %v", tt.series, v, ok, tt.want)
		}
	}
	for s := range got {
		if strings.Contains(s, "noSuchEvent") {
			t.Errorf("an undeclared event became a label value: %s", s)
		}
	}
	awaitSample(t, addr, series("gatehouse_connects_total", "namespace", "/chat"), 2)
	awaitSample(t, addr, series("gatehouse_connections", "namespace", "/chat", "transport", "websocket"), 2)

	_ = listener.Close()
	awaitSample(t, addr, series("gatehouse_disconnects_total", "namespace", "/chat"), 1)
	awaitSample(t, addr, series("gatehouse_connections", "namespace", "/chat", "transport", "websocket"), 1)
}

func TestMetricsCanBeTurnedOffOrMoved(t *testing.T) {
	tests := []struct {
		name       string
		server     string
		path       string
		wantStatus int
	}{
		{"off", "server:\n  metrics: false\n", "/metrics", http.StatusNotFound},
		{"moved", "server:\n  metrics_path: /internal/metrics\n", "/internal/metrics", http.StatusOK},
		{"moved away from the default", "server:\n  metrics_path: /internal/metrics\n", "/metrics", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveGateway(t, tt.server+"namespaces:\n  /chat: {}\n")
			resp, err := http.Get("http://" + addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusOK && !strings.Contains(string(body), "gatehouse_engineio_sessions 0") {
				t.Errorf("GET %s did not serve the metrics:\n%s", tt.path, body)
			}
		})
	}
}
