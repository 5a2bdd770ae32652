package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookBackend is a real HTTP backend on a fixed loopback address that a
// test can stop, slow down and start again.
type webhookBackend struct {
	t    *testing.T
	addr string
	slow atomic.Bool // answers after slowFor when set
	srv  *http.Server
	done chan struct{}
}

// slowFor is how long a slow backend takes: well past the webhook timeout
// of webhookOutageConfig.
const slowFor = 1500 * time.Millisecond

func startWebhookBackend(t *testing.T) *webhookBackend {
	t.Helper()
	b := &webhookBackend{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *webhookBackend) serve(ln net.Listener) {
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.slow.Load() {
			select {
			case <-time.After(slowFor):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"reply": {"ok": true}}`))
	})}
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
}

// stop closes the backend and every connection to it.
func (b *webhookBackend) stop() {
	if b.srv == nil {
		return
	}
	_ = b.srv.Close()
	<-b.done
	b.srv = nil
}

// restart serves again on the same address.
func (b *webhookBackend) restart() {
	b.t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("listen again on %s: %v", b.addr, err)
	}
	b.serve(ln)
}

const webhookOutageConfig = `
namespaces:
  /hooks:
    events:
      hook:
        handler:
          webhook: {url: "http://%s/events?key=s3cr3t", timeout: 300ms}
`

// startJSONLogGateway serves text with a JSON logger writing to a buffer;
// it returns the gateway and a function that reads the log so far.
func startJSONLogGateway(t *testing.T, text string) (*liveGateway, func() string) {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(lockedWriter{mu: &mu, w: &buf}, nil))
	g := serveLiveGateway(t, text, Options{Logger: logger})
	return g, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// webhookRecords returns the log records about webhook backends.
func webhookRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var records []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if msg, _ := r["msg"].(string); strings.HasPrefix(msg, "webhook backend") {
			records = append(records, r)
		}
	}
	return records
}

func TestWebhookOutageIsLoggedOnceWithItsRecovery(t *testing.T) {
	tests := []struct {
		name      string
		breakIt   func(b *webhookBackend)
		repair    func(b *webhookBackend)
		wantCode  string
		wantCause string
	}{
		// A stopped backend is met as a refused dial, or, on the pooled
		// connection it closed, as EOF or a reset: each is the outage's cause.
		{"backend down", (*webhookBackend).stop, (*webhookBackend).restart, "upstream_error", "connection refused|EOF|connection reset"},
		{"backend slow", func(b *webhookBackend) { b.slow.Store(true) }, func(b *webhookBackend) { b.slow.Store(false) }, "upstream_timeout", "deadline"},
	}
	const failedCalls = 5
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend := startWebhookBackend(t)
			g, readLog := startJSONLogGateway(t, fmt.Sprintf(webhookOutageConfig, backend.addr))
			c := g.dial(t, "/hooks")
			if got := ackOf(t, c, "/hooks", "hook", nil); got["ok"] != true {
				t.Fatalf("hook with the backend up acked %v", got)
			}

			tc.breakIt(backend)
			for i := 0; i < failedCalls; i++ {
				if got := errorCode(ackOf(t, c, "/hooks", "hook", nil)); got != tc.wantCode {
					t.Fatalf("call %d during the outage: code %q, want %s", i, got, tc.wantCode)
				}
			}
			tc.repair(backend)
			for i := 0; i < 3; i++ {
				if got := ackOf(t, c, "/hooks", "hook", nil); got["ok"] != true {
					t.Fatalf("hook after the backend came back acked %v", got)
				}
			}

			records := webhookRecords(t, readLog())
			if len(records) != 2 {
				t.Fatalf("want one warning and one recovery line, got %d:\n%s", len(records), readLog())
			}
			warn, back := records[0], records[1]
			if warn["level"] != "WARN" || !regexp.MustCompile(tc.wantCause).MatchString(fmt.Sprint(warn["error"])) {
				t.Errorf("outage line %v: want WARN with the cause (%s)", warn, tc.wantCause)
			}
			if back["level"] != "INFO" || back["failed_calls"] != float64(failedCalls) {
				t.Errorf("recovery line %v: want INFO with failed_calls %d", back, failedCalls)
			}
			if strings.Contains(readLog(), "s3cr3t") {
				t.Errorf("the webhook URL's query reached the log:\n%s", readLog())
			}
		})
	}
}
