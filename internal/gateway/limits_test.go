package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// limitsWait bounds every wait of these tests; reaching it is a failure.
const limitsWait = 5 * time.Second

// liveGateway is a gateway serving on a loopback port for one test.
type liveGateway struct {
	gw   *Gateway
	addr string
	url  string // the Engine.IO endpoint, ws://
	stop func(ctx context.Context) error
}

// startLiveGateway builds a gateway from text (with the given registries,
// the default ones when zero) and serves it until the test ends or stop is
// called.
func startLiveGateway(t testing.TB, text string, reg Registries) *liveGateway {
	t.Helper()
	return serveLiveGateway(t, text, Options{Registries: reg})
}

// serveLiveGateway is startLiveGateway with the gateway's options (a
// logger of the test's, say).
func serveLiveGateway(t testing.TB, text string, opts Options) *liveGateway {
	t.Helper()
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	var once sync.Once
	var stopErr error
	stop := func(ctx context.Context) error {
		once.Do(func() {
			stopErr = gw.Shutdown(ctx)
			if err := <-served; err != nil && stopErr == nil {
				stopErr = err
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
		defer cancel()
		_ = stop(ctx)
	})
	addr := ln.Addr().String()
	return &liveGateway{gw: gw, addr: addr, url: "ws://" + addr + "/socket.io/", stop: stop}
}

// dial opens a session and connects nsp; the client is closed when the
// test ends.
func (g *liveGateway) dial(t testing.TB, nsp string) *sioclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if nsp != "" {
		if _, err := c.Connect(ctx, nsp, nil); err != nil {
			t.Fatalf("connect %s: %v", nsp, err)
		}
	}
	return c
}

// ackOf sends an event and decodes its acknowledgement's first argument.
func ackOf(t testing.TB, c *sioclient.Client, nsp, event string, data any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	args, err := c.EmitWithAck(ctx, nsp, event, data)
	if err != nil {
		t.Fatalf("emit %s: %v", event, err)
	}
	var out map[string]any
	if len(args) > 0 {
		_ = json.Unmarshal(args[0], &out)
	}
	return out
}

// errorCode is the C2 code of an error acknowledgement, "" for a success.
func errorCode(ack map[string]any) string {
	e, _ := ack["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// awaitDisconnect waits for the server's DISCONNECT of nsp.
func awaitDisconnect(t *testing.T, c *sioclient.Client, nsp string) {
	t.Helper()
	deadline := time.After(limitsWait)
	for {
		select {
		case ev := <-c.Events():
			if ev.Name == "disconnect" && ev.Namespace == nsp {
				return
			}
		case <-deadline:
			t.Fatalf("no DISCONNECT of %s", nsp)
		}
	}
}

const limitsConfig = `
server:
  limits:
    max_connections_per_ip: 3
    max_namespaces_per_session: 1
    max_rooms_per_socket: 2
    flood: {rate: 1, per: 1h, burst: 3, disconnect_after: 2}
namespaces:
  /a:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
      join:
        handler: {join: {room: data.room}}
  /b:
    events: {}
`

func TestConnectionsOverTheLimitAreRefusedWith503(t *testing.T) {
	g := startLiveGateway(t, limitsConfig, Registries{})
	for range 3 {
		g.dial(t, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, err := sioclient.Dial(ctx, g.url)
	if err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("fourth connection: %v, want a 503 refusal", err)
	}
	if n := g.gw.LimitRefusals()["max_connections_per_ip"]; n != 1 {
		t.Errorf("max_connections_per_ip refusals = %d, want 1", n)
	}
	resp, err := http.Get("http://" + g.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := `gatehouse_limit_refusals_total{limit="max_connections_per_ip"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

func TestNamespacesPerConnectionAreLimited(t *testing.T) {
	g := startLiveGateway(t, limitsConfig, Registries{})
	c := g.dial(t, "/a")
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, err := c.Connect(ctx, "/b", nil)
	var refusal *sioclient.ConnectError
	if !errors.As(err, &refusal) || refusal.Code() != "limit_exceeded" {
		t.Fatalf("second namespace: %v, want CONNECT_ERROR limit_exceeded", err)
	}
	if got := ackOf(t, c, "/a", "ping", nil); errorCode(got) != "" {
		t.Fatalf("the first namespace stopped working: %v", got)
	}
}

func TestRoomsPerSocketAreLimited(t *testing.T) {
	g := startLiveGateway(t, strings.Replace(limitsConfig, "burst: 3", "burst: 100", 1), Registries{})
	c := g.dial(t, "/a")
	for _, room := range []string{"r1", "r2", "r1"} {
		if got := ackOf(t, c, "/a", "join", map[string]string{"room": room}); got["ok"] != true {
			t.Fatalf("join %s: %v", room, got)
		}
	}
	got := ackOf(t, c, "/a", "join", map[string]string{"room": "r3"})
	if errorCode(got) != "limit_exceeded" {
		t.Fatalf("third room: %v, want limit_exceeded", got)
	}
	if n := g.gw.LimitRefusals()["max_rooms_per_socket"]; n != 1 {
		t.Errorf("max_rooms_per_socket refusals = %d, want 1", n)
	}
}

func TestFloodingSocketIsRefusedThenDisconnected(t *testing.T) {
	g := startLiveGateway(t, limitsConfig, Registries{})
	c := g.dial(t, "/a")
	for i := range 3 {
		if got := ackOf(t, c, "/a", "ping", nil); errorCode(got) != "" {
			t.Fatalf("event %d within the burst: %v", i, got)
		}
	}
	refused := ackOf(t, c, "/a", "ping", nil)
	e, _ := refused["error"].(map[string]any)
	if e["code"] != "rate_limited" || e["retry_after_ms"].(float64) <= 0 {
		t.Fatalf("event past the burst: %v, want rate_limited with retry_after_ms", refused)
	}
	// The second refusal in a row disconnects the socket (disconnect_after: 2).
	if got := ackOf(t, c, "/a", "unknown", nil); errorCode(got) != "rate_limited" {
		t.Fatalf("second event past the burst: %v", got)
	}
	awaitDisconnect(t, c, "/a")
	refusals := g.gw.LimitRefusals()
	if refusals["flood"] != 1 || refusals["flood_disconnect"] != 1 {
		t.Errorf("refusals %v, want one flood and one flood_disconnect", refusals)
	}
}

func TestRefusalsAreLoggedOncePerBurst(t *testing.T) {
	var lines strings.Builder
	var mu sync.Mutex
	log := newRefusalLog(newTestLogger(&mu, &lines))
	now := time.Unix(1000, 0)
	log.now = func() time.Time { return now }
	for range 5 {
		log.refused("flood")
	}
	now = now.Add(refusalLogInterval)
	log.refused("flood")
	log.refused("max_connections")

	mu.Lock()
	got := lines.String()
	mu.Unlock()
	if n := strings.Count(got, "limit=flood"); n != 2 {
		t.Errorf("%d lines for flood, want 2:\n%s", n, got)
	}
	if !strings.Contains(got, "limit=flood refused=5") {
		t.Errorf("the second line does not count the 5 refusals since the first:\n%s", got)
	}
	if strings.Count(got, "limit=max_connections") != 1 {
		t.Errorf("no line for another limit:\n%s", got)
	}
	if totals := log.totals(); totals["flood"] != 6 || totals["max_connections"] != 1 {
		t.Errorf("totals %v", totals)
	}
}
