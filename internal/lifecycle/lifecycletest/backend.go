package lifecycletest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// Backend receives batches of events of type E, as JSON arrays.
type Backend[E any] struct {
	t    testing.TB
	addr string

	mu      sync.Mutex
	srv     *http.Server
	events  []E
	posts   int
	status  int           // answered instead of 200 when set
	hang    chan struct{} // requests wait on it when set
	headers http.Header   // of the last request
}

// Start serves a Backend on a free loopback port until the test ends.
func Start[E any](t testing.TB) *Backend[E] {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend[E]{t: t, addr: ln.Addr().String()}
	b.serve(ln)
	t.Cleanup(b.Stop)
	return b
}

// URL is where the backend receives batches.
func (b *Backend[E]) URL() string { return "http://" + b.addr + "/hooks" }

func (b *Backend[E]) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop shuts the backend down gracefully: requests in progress finish, the
// hanging ones answered 503 as a backend going down answers.
func (b *Backend[E]) Stop() {
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

// Restart listens again on the same address.
func (b *Backend[E]) Restart() {
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

func (b *Backend[E]) handle(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	status, hang := b.status, b.hang
	b.posts++
	b.headers = r.Header.Clone()
	b.mu.Unlock()
	if hang != nil {
		<-hang
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	var batch []E
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.events = append(b.events, batch...)
	b.mu.Unlock()
}

// Received returns the events of every batch accepted, in arrival order.
func (b *Backend[E]) Received() []E {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// SetStatus makes every request answered with code (0: accepted again).
func (b *Backend[E]) SetStatus(code int) {
	b.mu.Lock()
	b.status = code
	b.mu.Unlock()
}

// SetHang makes requests wait until the backend stops.
func (b *Backend[E]) SetHang() {
	b.mu.Lock()
	b.hang = make(chan struct{})
	b.mu.Unlock()
}

// Posts is the number of requests received.
func (b *Backend[E]) Posts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.posts
}

// Header is the header of the last request.
func (b *Backend[E]) Header() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.headers
}
