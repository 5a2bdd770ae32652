package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeAdapter struct {
	up     atomic.Bool
	errors atomic.Uint64
}

func (a *fakeAdapter) State() (bool, string) { return a.up.Load(), "test" }
func (a *fakeAdapter) Errors() uint64        { return a.errors.Load() }

func TestNilMetricsRecordNothingAndDoNotPanic(t *testing.T) {
	var m *Metrics
	m.UpgradeRefused("token_expired")
	m.SocketConnected("/chat")
	m.SocketDisconnected("/chat")
	m.ConnectRefused("/chat", "unauthorized")
	m.Event("/chat", "sendMessage", CodeOK)
	m.GuardDenied("per_user", "rate_limited")
	m.HandlerObserved("/chat", "sendMessage", "broadcast", time.Millisecond)
	m.Broadcast("/chat", 3)
	m.QueueDropped("websocket")
	if m.Registry() != nil {
		t.Error("a nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil Metrics handler status = %d, want 404", rec.Code)
	}
}

func TestCountersMoveWithTheirLabels(t *testing.T) {
	m := New(Sources{})
	m.UpgradeRefused("token_expired")
	m.SocketConnected("/chat")
	m.SocketConnected("/chat")
	m.SocketDisconnected("/chat")
	m.ConnectRefused("/chat", "unauthorized")
	m.Event("/chat", "sendMessage", CodeOK)
	m.Event("/chat", "sendMessage", CodeOK)
	m.Event("/chat", UnknownEvent, "unknown_event")
	m.GuardDenied("per_user", "rate_limited")
	m.Broadcast("/chat", 3)
	m.Broadcast("/chat", 0)
	m.QueueDropped("polling")
	m.HandlerObserved("/chat", "sendMessage", "broadcast", 2*time.Millisecond)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"upgrades refused", testutil.ToFloat64(m.upgradesRefused.WithLabelValues("token_expired")), 1},
		{"connects", testutil.ToFloat64(m.connects.WithLabelValues("/chat")), 2},
		{"disconnects", testutil.ToFloat64(m.disconnects.WithLabelValues("/chat")), 1},
		{"refused", testutil.ToFloat64(m.connectsRefused.WithLabelValues("/chat", "unauthorized")), 1},
		{"events ok", testutil.ToFloat64(m.events.WithLabelValues("/chat", "sendMessage", CodeOK)), 2},
		{"events unknown", testutil.ToFloat64(m.events.WithLabelValues("/chat", UnknownEvent, "unknown_event")), 1},
		{"guard denials", testutil.ToFloat64(m.guardDenials.WithLabelValues("per_user", "rate_limited")), 1},
		{"broadcasts", testutil.ToFloat64(m.broadcasts.WithLabelValues("/chat")), 2},
		{"deliveries", testutil.ToFloat64(m.deliveries.WithLabelValues("/chat")), 3},
		{"queue drops", testutil.ToFloat64(m.queueDrops.WithLabelValues("polling")), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.handlerDuration, "gatehouse_handler_duration_seconds"); n != 1 {
		t.Errorf("handler histogram series = %d, want 1", n)
	}
}

func TestScrapeReadsSourcesAtEachScrape(t *testing.T) {
	var connections []ConnectionCount
	sessions := 0
	adapter := &fakeAdapter{}
	m := New(Sources{
		Connections: func() []ConnectionCount { return connections },
		Sessions:    func() int { return sessions },
		Adapter:     adapter,
		AdapterKind: "redis",
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}

	first := scrape()
	for _, want := range []string{
		`gatehouse_adapter_up{adapter="redis"} 0`,
		`gatehouse_adapter_errors_total{adapter="redis"} 0`,
		`gatehouse_engineio_sessions 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first scrape lacks %q", want)
		}
	}
	if strings.Contains(first, "gatehouse_connections{") {
		t.Error("connections reported before any socket connected")
	}

	connections = []ConnectionCount{{"/chat", "polling", 1}, {"/chat", "websocket", 4}}
	sessions = 5
	adapter.up.Store(true)
	adapter.errors.Store(7)
	second := scrape()
	for _, want := range []string{
		`gatehouse_connections{namespace="/chat",transport="polling"} 1`,
		`gatehouse_connections{namespace="/chat",transport="websocket"} 4`,
		`gatehouse_engineio_sessions 5`,
		`gatehouse_adapter_up{adapter="redis"} 1`,
		`gatehouse_adapter_errors_total{adapter="redis"} 7`,
	} {
		if !strings.Contains(second, want) {
			t.Errorf("second scrape lacks %q:\n%s", want, second)
		}
	}
}

func TestTwoGatewaysKeepSeparateCounts(t *testing.T) {
	a, b := New(Sources{}), New(Sources{})
	a.Event("/chat", "join", CodeOK)
	if got := testutil.ToFloat64(b.events.WithLabelValues("/chat", "join", CodeOK)); got != 0 {
		t.Errorf("second registry counted the first one's event: %v", got)
	}
}
