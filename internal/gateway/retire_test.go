package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// retireLog records, per config generation, when the instances of the
// handler types below were closed and whether one was closed while an
// event was still inside it.
type retireLog struct {
	mu          sync.Mutex
	generation  int
	closed      map[int]int // generation -> instances closed
	closedWhile []string    // instances closed with an event inside
	entered     chan struct{}
	release     chan struct{}
}

func (l *retireLog) closedIn(generation int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed[generation]
}

// retireHandler is one instance of the handler "gate" (blocks until the
// log's release is closed) or "work" (a short wait), which records its
// Close and whether an event was inside at the time.
type retireHandler struct {
	log        *retireLog
	kind       string
	generation int
	inside     atomic.Int64
}

func (h *retireHandler) Handle(ctx context.Context, _ *handlers.Call) (any, error) {
	h.inside.Add(1)
	defer h.inside.Add(-1)
	if h.kind == "gate" {
		h.log.entered <- struct{}{}
		select {
		case <-h.log.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return map[string]any{"generation": h.generation}, nil
	}
	time.Sleep(20 * time.Millisecond)
	return map[string]any{"generation": h.generation}, nil
}

// MayBlock is true so that the events wait in the socket's queue, the
// path where an event holds its config longest.
func (h *retireHandler) MayBlock() bool { return true }

func (h *retireHandler) Close(context.Context) error {
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	h.log.closed[h.generation]++
	if h.inside.Load() != 0 {
		h.log.closedWhile = append(h.log.closedWhile, fmt.Sprintf("%s of generation %d", h.kind, h.generation))
	}
	return nil
}

func retireRegistries(l *retireLog) Registries {
	hs := handlers.NewRegistry()
	for _, kind := range []string{"gate", "work"} {
		hs.Register(kind, func(gatewayconfig.Options) (handlers.Handler, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			return &retireHandler{log: l, kind: kind, generation: l.generation}, nil
		})
	}
	return Registries{Guards: guards.Default(), Handlers: hs}
}

const retireConfig = `
server: {listen: "127.0.0.1:0"}
namespaces:
  /r:
    auth: none
    events:
      slow: {handler: {gate: {}}}
      work: {handler: {work: {}}}
`

// steadyLoad keeps 4 "work" events of each of clients in flight at every
// moment (each loop sends the next one as soon as the previous is acked;
// each socket has three waiting behind the running one), so that the
// gateway as a whole is never idle, until stop is called.
func steadyLoad(t *testing.T, g *liveGateway, clients int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var acked atomic.Int64
	for range clients {
		c := g.dial(t, "/r")
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := c.EmitWithAck(ctx, "/r", "work"); err == nil {
						acked.Add(1)
					}
				}
			}()
		}
	}
	deadline := time.Now().Add(limitsWait)
	for acked.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("the load's events are not acked")
		}
		time.Sleep(time.Millisecond)
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// A reload closes the instances it replaced as soon as the last event
// running under the old config is done, even while other events keep the
// gateway busy without a pause, and never while that event still runs.
func TestReloadClosesReplacedPluginsWhenTheirLastEventEndsUnderSteadyLoad(t *testing.T) {
	l := &retireLog{closed: map[int]int{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	g := startLiveGateway(t, retireConfig, retireRegistries(l))

	blocked := g.dial(t, "/r")
	slowAck := make(chan string, 1)
	go func() {
		// Not ackOf: a test may not fail from another goroutine.
		args, err := blocked.EmitWithAck(context.Background(), "/r", "slow")
		if err != nil || len(args) == 0 {
			slowAck <- fmt.Sprintf("no ack: %v", err)
			return
		}
		slowAck <- string(args[0])
	}()
	select {
	case <-l.entered:
	case <-time.After(limitsWait):
		t.Fatal("the blocking handler was not entered")
	}
	stopLoad := steadyLoad(t, g, 3)
	defer stopLoad()

	l.mu.Lock()
	l.generation = 1
	l.mu.Unlock()
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(retireConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.gw.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}

	// The blocked event still runs under generation 0: nothing of it may
	// close, however long the reload has been done.
	time.Sleep(300 * time.Millisecond)
	if n := l.closedIn(0); n != 0 {
		t.Fatalf("%d instances of the replaced config closed while one of its events still runs", n)
	}

	released := time.Now()
	close(l.release)
	deadline := released.Add(5 * time.Second) // far below pluginCloseGrace
	for l.closedIn(0) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 replaced instances closed 5 s after their last event ended (load still running)", l.closedIn(0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("replaced instances closed %v after the blocked event was released", time.Since(released).Round(time.Millisecond))

	select {
	case ack := <-slowAck:
		if ack != `{"generation":0}` {
			t.Errorf("blocked event acked %v, want the reply of generation 0", ack)
		}
	case <-time.After(limitsWait):
		t.Fatal("the blocked event was not acked")
	}
	stopLoad()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.closedWhile) > 0 {
		t.Errorf("closed with an event inside: %v", l.closedWhile)
	}
	if l.closed[1] != 0 {
		t.Errorf("%d instances of the running config closed", l.closed[1])
	}
}

const retireHookConfig = `
server: {listen: "127.0.0.1:0"}
namespaces:
  /hook:
    auth: none
    on_connect:
      - gate: {}
    events:
      work: {handler: {work: {}}}
`

// An on_connect handler runs under the config it started with: a reload
// meanwhile closes that config's instances only once the handler returns.
func TestReloadKeepsReplacedPluginsOpenWhileAnOnConnectHandlerRuns(t *testing.T) {
	l := &retireLog{closed: map[int]int{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	g := startLiveGateway(t, retireHookConfig, retireRegistries(l))

	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connected := make(chan error, 1)
	go func() {
		_, err := c.Connect(ctx, "/hook", nil)
		connected <- err
	}()
	select {
	case <-l.entered:
	case <-time.After(limitsWait):
		t.Fatal("the on_connect handler was not entered")
	}

	l.mu.Lock()
	l.generation = 1
	l.mu.Unlock()
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(retireHookConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.gw.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := l.closedIn(0); n != 0 {
		t.Fatalf("%d instances of the replaced config closed while its on_connect handler still runs", n)
	}

	close(l.release)
	deadline := time.Now().Add(5 * time.Second)
	for l.closedIn(0) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 replaced instances closed 5 s after the on_connect handler returned", l.closedIn(0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-connected; err != nil {
		t.Errorf("connect: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.closedWhile) > 0 {
		t.Errorf("closed with a handler inside: %v", l.closedWhile)
	}
}
