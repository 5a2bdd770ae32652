package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const testSecret = "loadgen-test-secret"

// startGateway serves bench/gateway-bench.yaml in this process on a free
// loopback port and returns its address.
func startGateway(t *testing.T) string {
	t.Helper()
	t.Setenv("JWT_SECRET", testSecret)
	cfg, err := gatewayconfig.Load(filepath.Join("..", "gateway-bench.yaml"))
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	gw, err := gateway.Build(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatalf("build gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestScenariosAgainstTheGatewayCountEveryEvent(t *testing.T) {
	addr := startGateway(t)
	base := options{
		target: "gatehouse", addr: addr, path: "/socket.io/", namespace: "/chat", secret: testSecret,
		conns: 20, concurrency: 5, duration: time.Second, window: 4, pid: os.Getpid(),
		perSource: 8, timeout: time.Minute,
	}
	tests := []struct {
		scenario string
		rate     float64
		window   int
		check    func(t *testing.T, r result)
	}{
		{"connect", 0, 4, func(t *testing.T, r result) {
			if r.OK != 20 || r.Errors != 0 || r.Rate <= 0 || r.P50ms <= 0 {
				t.Errorf("want 20 connections, no error, a rate and latencies; got %+v", r)
			}
		}},
		{"hold", 0, 4, func(t *testing.T, r result) {
			if r.Held != 20 || r.RSSPost <= 0 {
				t.Errorf("want 20 connections held and an RSS; got %+v", r)
			}
		}},
		{"ack", 0, 1, func(t *testing.T, r result) {
			if r.Mode != "closed" || r.Window != 1 || r.Sent == 0 || r.OK != r.Sent || r.Lost != 0 || r.Errors != 0 || r.P99ms <= 0 {
				t.Errorf("want every whoami acked, 1 in flight per connection; got %+v", r)
			}
		}},
		{"ack", 0, 8, func(t *testing.T, r result) {
			if r.Mode != "closed" || r.Window != 8 || r.Sent < 8*20 || r.OK != r.Sent || r.Lost != 0 || r.Errors != 0 || r.P99ms <= 0 {
				t.Errorf("want every whoami acked, 8 in flight per connection; got %+v", r)
			}
		}},
		{"ack", 200, 8, func(t *testing.T, r result) {
			if r.Mode != "rate" || r.Window != 0 || r.Sent < 100 || r.OK != r.Sent || r.Lost != 0 {
				t.Errorf("want about 200 whoami in a second, all acked, no window; got %+v", r)
			}
		}},
		{"fanout", 0, 4, func(t *testing.T, r result) {
			if r.Window != 4 || r.Sent == 0 || r.OK != r.Sent*20 || r.Lost != 0 || r.Errors != 0 || r.P50ms <= 0 {
				t.Errorf("want every message delivered to the 20 receivers and acked ok; got %+v", r)
			}
		}},
		{"fanout", 20, 4, func(t *testing.T, r result) {
			if r.Mode != "rate" || r.Sent < 10 || r.OK != r.Sent*20 || r.Lost != 0 {
				t.Errorf("want about 20 messages delivered to the 20 receivers; got %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s rate %v window %d", tt.scenario, tt.rate, tt.window), func(t *testing.T) {
			opts := base
			opts.scenario, opts.rate, opts.window = tt.scenario, tt.rate, tt.window
			r, err := run(context.Background(), opts)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if r.Scenario != tt.scenario || r.Target != "gatehouse" {
				t.Errorf("result names %s/%s", r.Scenario, r.Target)
			}
			tt.check(t, r)
		})
	}
}

func TestAWrongSecretIsCountedAsFailedConnections(t *testing.T) {
	addr := startGateway(t)
	r, err := run(context.Background(), options{
		scenario: "connect", target: "gatehouse", addr: addr, path: "/socket.io/", namespace: "/chat",
		secret: "not-the-secret", conns: 3, concurrency: 3, timeout: time.Minute,
	})
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("want the CONNECT_ERROR unauthorized, got %v", err)
	}
	if r.OK != 0 || r.Errors != 3 {
		t.Errorf("want 0 connected and 3 errors, got %+v", r)
	}
}

func TestOnlyLoopbackTargetsAreAccepted(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:8080", "example.com:80", "8080"} {
		if _, err := newEndpoint(addr, "/socket.io/", "/chat", "s", 0); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		if _, err := newEndpoint(addr, "/socket.io/", "/chat", "s", 0); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
}

func TestConnectionsSpreadOverSourceAddresses(t *testing.T) {
	e, err := newEndpoint("127.0.0.1:8080", "/socket.io/", "/chat", "s", 10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		conn int
		want string
	}{{0, "<nil>"}, {9, "<nil>"}, {10, "127.0.0.2:0"}, {25, "127.0.0.3:0"}, {10 * 300, "127.0.1.45:0"}}
	for _, tt := range tests {
		if got := e.sourceAddr(tt.conn).String(); got != tt.want {
			t.Errorf("connection %d from %s, want %s", tt.conn, got, tt.want)
		}
	}
}

func TestReportShowsRatiosAndMissedTargets(t *testing.T) {
	results := []result{
		// Written before the window was recorded: 1 in flight.
		{Scenario: "ack", Target: "gatehouse", Mode: "closed", Rate: 30000},
		{Scenario: "ack", Target: "node", Mode: "closed", Rate: 20000},
		{Scenario: "hold", Target: "gatehouse", Held: 1000, RSSConn: 10},
		{Scenario: "hold", Target: "node", Held: 1000, RSSConn: 50},
	}
	var buf bytes.Buffer
	writeReport(&buf, results, [][2]string{{"CPUs (nproc)", "2"}}, "bin/loadgen ack", "## Why\n")
	out := buf.String()
	for _, want := range []string{
		"| acked events/s, closed loop, 1 in flight per connection | 30000 | 20000 | — | — | 1.50× | — | — |",
		"| acked events/s ≥ 4× Node | 1 in flight: 1.50× node (short by 62%) | no |",
		"| RSS per idle authenticated connection ≤ 12 KiB and ≤ ¼ of Node's | 10.00 KiB vs Node 50.00 KiB (0.20×) | yes |",
		"| fan-out deliveries/s ≥ 4× Node | not measured | not checked |",
		"bin/loadgen ack",
		"## Why",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportHoldsGatehouseAgainstTheGoPeer(t *testing.T) {
	results := []result{
		{Scenario: "ack", Target: "gatehouse", Mode: "closed", Window: 1, Rate: 40000, P50ms: 1, P99ms: 3},
		{Scenario: "ack", Target: "node", Mode: "closed", Window: 1, Rate: 10000, P50ms: 4, P99ms: 9},
		{Scenario: "ack", Target: "go", Mode: "closed", Window: 1, Rate: 16000, P50ms: 2.5, P99ms: 12},
		{Scenario: "hold", Target: "go", Held: 1000, RSSConn: 20},
		{Scenario: "fanout", Target: "go", Mode: "closed", Window: 8, Senders: 200, SenderRate: 10, Rate: 30000, P50ms: 9},
	}
	var buf bytes.Buffer
	writeReport(&buf, results, nil, "", "")
	out := buf.String()
	for _, want := range []string{
		"| figure | gatehouse | node | go | bare | gatehouse/node | gatehouse/go | gatehouse/bare |",
		"| acked events/s, closed loop, 1 in flight per connection | 40000 | 10000 | 16000 | — | 4.00× | 2.50× | — |",
		"| ack latency p99, closed loop, 1 in flight per connection (ms) | 3.00 | 9.00 | 12.00 | — | 0.33× | 0.25× | — |",
		// A figure only the Go peer has still gets its row.
		"| server RSS per idle connection (KiB) | — | — | 20.00 | — | — | — | — |",
		"| fan-out deliveries/s, many senders at C1's per-user limit, closed loop | — | — | 30000 | — | — | — | — |",
		"| hold | go | — | — | 0 |",
		"**go** is the Go peer (zishang520/socket.io v3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestMedianTargetAtTheOfferedLoadNeedsEveryPeer(t *testing.T) {
	offered := func(target string, p50 float64) result {
		return result{Scenario: "ack", Target: target, Mode: "rate", Offered: 5000, Rate: 5000, P50ms: p50}
	}
	const row = "| ack latency p50 at the offered load ≤ the peers' (Node's and the Go peer's) | "
	tests := []struct {
		name    string
		results []result
		want    string
	}{
		{"under both", []result{offered("gatehouse", 0.2), offered("node", 0.8), offered("go", 0.4)},
			row + "0.20 ms at 5000 events/s vs node 0.80 ms (0.25×), go 0.40 ms (0.50×) | yes |"},
		{"equal to one", []result{offered("gatehouse", 0.4), offered("node", 0.8), offered("go", 0.4)},
			row + "0.40 ms at 5000 events/s vs node 0.80 ms (0.50×), go 0.40 ms (1.00×) | yes |"},
		{"over the Go peer", []result{offered("gatehouse", 0.5), offered("node", 0.8), offered("go", 0.4)},
			row + "0.50 ms at 5000 events/s vs node 0.80 ms (0.62×), go 0.40 ms (1.25×, over by 0.10 ms) | no |"},
		{"Go peer not run", []result{offered("gatehouse", 0.2), offered("node", 0.8)},
			row + "0.20 ms at 5000 events/s vs node 0.80 ms (0.25×), go not measured | not checked |"},
		{"over Node, Go peer not run", []result{offered("gatehouse", 0.9), offered("node", 0.8)},
			row + "0.90 ms at 5000 events/s vs node 0.80 ms (1.12×, over by 0.10 ms), go not measured | no |"},
		{"Go peer failed", []result{offered("gatehouse", 0.2), offered("node", 0.8), {Scenario: "ack", Target: "go", Mode: "rate", Error: "refused"}},
			row + "0.20 ms at 5000 events/s vs node 0.80 ms (0.25×), go not measured | not checked |"},
		{"gatehouse not run", []result{offered("node", 0.8), offered("go", 0.4)},
			row + "not measured | not checked |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeReport(&buf, tt.results, nil, "", "")
			if out := buf.String(); !strings.Contains(out, tt.want) {
				t.Errorf("report lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestGoPeerLibraryIsReadFromItsGoMod(t *testing.T) {
	dir := t.TempDir()
	goMod := dir + "/go.mod"
	text := "module x\n\nrequire (\n\tgithub.com/golang-jwt/jwt/v5 v5.3.1\n\tgithub.com/zishang520/socket.io/servers/socket/v3 v3.0.6\n)\n"
	if err := os.WriteFile(goMod, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := goPeerLibrary(goMod), "github.com/zishang520/socket.io/servers/socket/v3 v3.0.6"; got != want {
		t.Errorf("goPeerLibrary = %q, want %q", got, want)
	}
	if got := goPeerLibrary(dir + "/missing"); got != "" {
		t.Errorf("goPeerLibrary of a missing file = %q, want empty", got)
	}
	// The repository's own peer, as the report reads it from the root.
	if got := goPeerLibrary("../peers/goio/go.mod"); !strings.HasPrefix(got, "github.com/zishang520/socket.io/servers/socket/v3 v3.") {
		t.Errorf("goPeerLibrary of bench/peers/goio/go.mod = %q", got)
	}
}

func TestReportGivesEachAckWindowItsRowsAndVerdict(t *testing.T) {
	ack := func(target string, window int, rate, p50, p99 float64) result {
		return result{Scenario: "ack", Target: target, Mode: "closed", Window: window, Rate: rate, P50ms: p50, P99ms: p99}
	}
	tests := []struct {
		name      string
		results   []result
		want      []string
		forbidden []string
	}{
		{"met at 8 in flight, missed at 1", []result{
			ack("gatehouse", 1, 39200, 1, 2), ack("node", 1, 20000, 2, 4),
			ack("gatehouse", 8, 86000, 3, 6), ack("node", 8, 20000, 12, 24),
			{Scenario: "ack", Target: "bare", Mode: "closed", Window: 8, Rate: 100000, P50ms: 2, P99ms: 5},
		}, []string{
			"| acked events/s, closed loop, 1 in flight per connection | 39200 | 20000 | — | — | 1.96× | — | — |",
			"| acked events/s, closed loop, 8 in flight per connection | 86000 | 20000 | — | 100000 | 4.30× | — | 0.86× |",
			"| ack latency p50, closed loop, 8 in flight per connection (ms) | 3.00 | 12.00 | — | 2.00 | 0.25× | — | 1.50× |",
			"| ack latency p99, closed loop, 8 in flight per connection (ms) | 6.00 | 24.00 | — | 5.00 | 0.25× | — | 1.20× |",
			"| acked events/s ≥ 4× Node | 1 in flight: 1.96× node (short by 51%); 8 in flight: 4.30× node | yes at 8 in flight, no at 1 |",
			"| ack | gatehouse | closed | 8 per conn | 0 |",
		}, nil},
		{"met at both", []result{
			ack("gatehouse", 1, 80000, 1, 2), ack("node", 1, 20000, 2, 4),
			ack("gatehouse", 16, 90000, 1, 2), ack("node", 16, 20000, 2, 4),
		}, []string{
			"| acked events/s, closed loop, 16 in flight per connection | 90000 | 20000 | — | — | 4.50× | — | — |",
			"| acked events/s ≥ 4× Node | 1 in flight: 4.00× node; 16 in flight: 4.50× node | yes |",
		}, []string{"8 in flight"}},
		{"missed at both", []result{
			ack("gatehouse", 1, 20000, 1, 2), ack("node", 1, 20000, 2, 4),
			ack("gatehouse", 8, 40000, 1, 2), ack("node", 8, 20000, 2, 4),
		}, []string{
			"| acked events/s ≥ 4× Node | 1 in flight: 1.00× node (short by 75%); 8 in flight: 2.00× node (short by 50%) | no |",
		}, nil},
		{"only 8 in flight measured", []result{
			ack("gatehouse", 8, 90000, 1, 2), ack("node", 8, 20000, 2, 4),
		}, []string{
			"| acked events/s ≥ 4× Node | 1 in flight: not measured; 8 in flight: 4.50× node | yes at 8 in flight, not checked at 1 |",
		}, []string{"acked events/s, closed loop, 1 in flight per connection |"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeReport(&buf, tt.results, nil, "", "")
			out := buf.String()
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
			for _, no := range tt.forbidden {
				if strings.Contains(out, no) {
					t.Errorf("report has %q:\n%s", no, out)
				}
			}
		})
	}
}

func TestPercentilesOfKnownSamples(t *testing.T) {
	var s samples
	batch := make([]time.Duration, 1000)
	for i := range batch {
		batch[i] = time.Duration(1000-i) * time.Millisecond
	}
	s.add(batch)
	p50, p99, p999 := s.percentiles()
	if p50 != 500 || p99 != 990 || p999 != 999 {
		t.Errorf("p50 %v p99 %v p99.9 %v, want 500 990 999", p50, p99, p999)
	}
}
