package lifecycle

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// backend is a real HTTP server receiving hook batches on a fixed loopback
// address, which a test can stop and start again (a backend restart), make
// answer with a status, or make hang.
type backend struct {
	t    testing.TB
	addr string

	mu      sync.Mutex
	srv     *http.Server
	events  []Event
	posts   int
	status  int           // answered instead of 200 when set
	hang    chan struct{} // requests wait on it when set
	headers http.Header
}

func startBackend(t testing.TB) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{t: t, addr: ln.Addr().String()}
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) url() string { return "http://" + b.addr + "/hooks" }

func (b *backend) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop shuts the server down gracefully: requests in progress finish.
func (b *backend) stop() {
	b.mu.Lock()
	srv, hang := b.srv, b.hang
	b.srv, b.hang = nil, nil
	b.mu.Unlock()
	if hang != nil {
		close(hang)
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// restart listens again on the same address.
func (b *backend) restart() {
	b.t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("backend listen again on %s: %v", b.addr, err)
	}
	b.serve(ln)
}

func (b *backend) handle(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	status, hang := b.status, b.hang
	b.posts++
	b.headers = r.Header.Clone()
	b.mu.Unlock()
	if hang != nil {
		<-hang
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	var batch []Event
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.events = append(b.events, batch...)
	b.mu.Unlock()
}

func (b *backend) received() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Event(nil), b.events...)
}

func (b *backend) setStatus(code int) {
	b.mu.Lock()
	b.status = code
	b.mu.Unlock()
}

func (b *backend) setHang() {
	b.mu.Lock()
	b.hang = make(chan struct{})
	b.mu.Unlock()
}

func (b *backend) postCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.posts
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastOptions are Sender options for tests: short intervals and retries.
func fastOptions(url string) Options {
	return Options{
		URL: url, Node: "n1", BatchSize: 10, BatchInterval: 20 * time.Millisecond,
		Timeout: 2 * time.Second, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	}
}

// closeSender closes s when the test ends.
func closeSender(t testing.TB, s *Sender) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
}
