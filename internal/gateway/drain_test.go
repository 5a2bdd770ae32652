package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// effects records what a handler did, by event id.
type effects struct {
	mu      sync.Mutex
	started map[int]bool
	done    map[int]bool
}

// slowWorkRegistries are the default registries plus "slow_work", a
// handler that takes a while, records its effect and acks the event's id.
func slowWorkRegistries(fx *effects, delay time.Duration) Registries {
	reg := handlers.NewRegistry()
	for _, name := range handlers.Default().Names() {
		f, _ := handlers.Default().Lookup(name)
		reg.Register(name, f)
	}
	reg.Register("slow_work", func(gatewayconfig.Options) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, call *handlers.Call) (any, error) {
			var in struct{ ID int }
			if err := json.Unmarshal(call.Payload.Raw(), &in); err != nil {
				return nil, err
			}
			fx.mu.Lock()
			fx.started[in.ID] = true
			fx.mu.Unlock()
			time.Sleep(delay) // not ctx: the drain must let it finish
			fx.mu.Lock()
			fx.done[in.ID] = true
			fx.mu.Unlock()
			return map[string]any{"ok": true, "id": in.ID}, nil
		}), nil
	})
	return Registries{Guards: DefaultRegistries().Guards, Handlers: reg}
}

const drainConfig = `
server:
  shutdown_grace: 4s
  limits:
    flood: {rate: 0}
namespaces:
  /work:
    events:
      work:
        handler: {slow_work: {}}
`

// outcome is what a client learnt of one event.
type outcome int

const (
	acked   outcome = iota // the handler's ack
	refused                // an error ack: not run
	unknown                // the connection ended first
)

func TestDrainUnderLoadLosesNoAcknowledgedEvent(t *testing.T) {
	fx := &effects{started: map[int]bool{}, done: map[int]bool{}}
	g := startLiveGateway(t, drainConfig, slowWorkRegistries(fx, 150*time.Millisecond))
	const clients, perClient = 20, 4 // events in flight per client
	var mu sync.Mutex
	outcomes := map[int]outcome{}
	var wg sync.WaitGroup
	var conns []*sioclient.Client
	for i := range clients {
		c := g.dial(t, "/work")
		conns = append(conns, c)
		for j := range perClient {
			wg.Add(1)
			go func(base int) {
				defer wg.Done()
				for n := 0; ; n++ {
					id := base + n*clients*perClient
					ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
					args, err := c.EmitWithAck(ctx, "/work", "work", map[string]int{"id": id})
					cancel()
					var ack map[string]any
					if err == nil && len(args) > 0 {
						_ = json.Unmarshal(args[0], &ack)
					}
					mu.Lock()
					switch {
					case errors.Is(err, sioclient.ErrClosed):
						outcomes[id] = unknown
					case err != nil:
						t.Errorf("event %d: %v", id, err)
					case ack["ok"] == true && ack["id"] == float64(id):
						outcomes[id] = acked
					case errorCode(ack) == "unavailable":
						outcomes[id] = refused
					default:
						t.Errorf("event %d: ack %v", id, ack)
					}
					mu.Unlock()
					if err != nil || ack["ok"] != true {
						return
					}
				}
			}(i*perClient + j)
		}
	}
	time.Sleep(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	started := time.Now()
	if err := g.stop(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	took := time.Since(started)
	wg.Wait()

	fx.mu.Lock()
	defer fx.mu.Unlock()
	var nAcked, nRefused, nUnknown int
	for id, o := range outcomes {
		switch o {
		case acked:
			nAcked++
			if !fx.done[id] {
				t.Errorf("event %d was acknowledged but its handler did not finish", id)
			}
		case refused:
			nRefused++
			if fx.started[id] {
				t.Errorf("event %d was refused but its handler ran", id)
			}
		case unknown:
			nUnknown++
		}
	}
	for id := range fx.started {
		if !fx.done[id] {
			t.Errorf("event %d was cut off during its handler", id)
		}
		if outcomes[id] != acked {
			t.Errorf("event %d ran but its acknowledgement was lost (outcome %d)", id, outcomes[id])
		}
	}
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-time.After(limitsWait):
			t.Fatal("a client was not closed by the shutdown")
		}
		if c.Reason() != "server close" {
			t.Errorf("client closed with %q, want the server's close packet", c.Reason())
		}
	}
	if nAcked < clients*perClient {
		t.Errorf("only %d events acknowledged before the drain; the load did not run", nAcked)
	}
	t.Logf("drain took %s: %d acknowledged, %d refused while draining, %d unanswered (sent as the connection closed)",
		took, nAcked, nRefused, nUnknown)
}
