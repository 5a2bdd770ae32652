//go:build !race

package soak

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

var (
	duration = flag.Duration("soak.duration", 10*time.Second, "how long clients churn")
	conns    = flag.Int("soak.conns", 2000, "clients connected at any time")
)

// Tolerances of the comparison with the baseline: what the runtime and the
// HTTP server keep around legitimately (worker pools, timers, pools).
const (
	goroutineSlack = 50
	heapSlack      = 16 << 20
)

const soakConfig = `
server:
  limits:
    max_connections: 0
    max_connections_per_ip: 0
namespaces:
  /soak:
    events:
      ping:
        handler: {reply: {value: '{"ok": true, "n": data.n}'}}
      join:
        handler: {join: {room: data.room}}
      say:
        handler:
          broadcast: {event: said, to: data.room, data: data, include_sender: false}
`

// usage is a snapshot of what the process holds.
type usage struct {
	goroutines int
	heap       uint64
}

func measure() usage {
	runtime.GC()
	runtime.GC() // the second collection empties sync.Pools
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return usage{goroutines: runtime.NumGoroutine(), heap: m.HeapAlloc}
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB heap", u.goroutines, float64(u.heap)/(1<<20))
}

// serve starts a gateway on loopback and returns its Engine.IO URL and a
// function that shuts it down.
func serve(t *testing.T) (*gateway.Gateway, string, func()) {
	t.Helper()
	cfg, err := gatewayconfig.Parse("soak.yaml", []byte(soakConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.Build(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	return gw, "ws://" + ln.Addr().String() + "/socket.io/", stop
}

// counters are what the clients did.
type counters struct {
	sessions, acks, broadcasts, failures atomic.Int64
}

// visit is one client's life: connect, join a room, send acknowledged
// events and a broadcast for a random while, leave.
func visit(ctx context.Context, url string, rng *rand.Rand, c *counters) error {
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client, err := sioclient.Dial(dialCtx, url)
	if err != nil {
		return err
	}
	defer client.Close()
	if _, err := client.Connect(dialCtx, "/soak", nil); err != nil {
		return err
	}
	c.sessions.Add(1)
	room := fmt.Sprintf("room-%d", rng.IntN(50))
	if _, err := client.EmitWithAck(dialCtx, "/soak", "join", map[string]string{"room": room}); err != nil {
		return err
	}
	events := 2 + rng.IntN(8)
	for n := range events {
		args, err := client.EmitWithAck(dialCtx, "/soak", "ping", map[string]int{"n": n})
		if err != nil {
			return err
		}
		var ack struct {
			OK bool `json:"ok"`
			N  int  `json:"n"`
		}
		if len(args) != 1 || json.Unmarshal(args[0], &ack) != nil || !ack.OK || ack.N != n {
			return fmt.Errorf("ping %d: ack %s", n, args)
		}
		c.acks.Add(1)
		if n == 0 {
			if err := client.Emit("/soak", "say", map[string]string{"room": room, "text": "hi"}); err != nil {
				return err
			}
			c.broadcasts.Add(1)
		}
		select {
		case <-time.After(time.Duration(20+rng.IntN(80)) * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func TestSoakLeavesNoGoroutinesOrHeapBehind(t *testing.T) {
	gw, url, stop := serve(t)
	defer stop()

	// A first small round warms up what is allocated once (pools, the
	// HTTP server's workers), so that the baseline includes it.
	warm := &counters{}
	for i := range 20 {
		if err := visit(context.Background(), url, rand.New(rand.NewPCG(uint64(i), 1)), warm); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	waitIdle(t, gw)
	baseline := measure()

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	end, _ := ctx.Deadline()
	c := &counters{}
	var firstErr sync.Once
	var wg sync.WaitGroup
	started := time.Now()
	for w := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			// Spread the first connections over a second.
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			for ctx.Err() == nil {
				// A visit cut short by the end of the soak is no failure. The
				// deadline is checked by the clock, not by ctx.Err(): on a busy
				// machine the context's timer may fire a little after the
				// deadline has passed, while dials already fail because of it.
				if err := visit(ctx, url, rng, c); err != nil && time.Now().Before(end) {
					c.failures.Add(1)
					firstErr.Do(func() { t.Logf("first client failure: %v", err) })
				}
			}
		}()
	}
	peak := 0
	for ctx.Err() == nil {
		peak = max(peak, gw.SessionCount())
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	elapsed := time.Since(started)
	waitIdle(t, gw)

	// Goroutines end and memory is released asynchronously; give them a
	// moment before calling it a leak.
	var after usage
	deadline := time.Now().Add(15 * time.Second)
	for {
		after = measure()
		if after.goroutines <= baseline.goroutines+goroutineSlack && after.heap <= baseline.heap+heapSlack {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%s with %d clients: %d sessions (peak %d open), %d acked events, %d broadcasts, %d failures",
		elapsed.Round(time.Second), *conns, c.sessions.Load(), peak, c.acks.Load(), c.broadcasts.Load(), c.failures.Load())
	t.Logf("baseline %s; after %s", baseline, after)

	if c.sessions.Load() < int64(*conns) {
		t.Errorf("only %d sessions for %d clients: the soak did not run", c.sessions.Load(), *conns)
	}
	if f := c.failures.Load(); f*100 > c.sessions.Load() {
		t.Errorf("%d client failures in %d sessions (over 1%%)", f, c.sessions.Load())
	}
	if after.goroutines > baseline.goroutines+goroutineSlack {
		t.Errorf("goroutines: %d after the soak, baseline %d (+%d allowed): a leak", after.goroutines, baseline.goroutines, goroutineSlack)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	if after.heap > baseline.heap+heapSlack {
		t.Errorf("heap: %.1f MiB after the soak, baseline %.1f MiB (+%d MiB allowed): a leak",
			float64(after.heap)/(1<<20), float64(baseline.heap)/(1<<20), heapSlack>>20)
	}
}

// waitIdle waits until the gateway holds no session.
func waitIdle(t *testing.T, gw *gateway.Gateway) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for gw.SessionCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after the clients left", gw.SessionCount())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
