package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const reloadV1 = `
server:
  limits:
    max_rooms_per_socket: 10
namespaces:
  /chat:
    events:
      ping:
        handler: {reply: {value: '"v1"'}}
      join:
        handler: {join: {room: data.room}}
`

func TestReloadUnderLoadKeepsConnectionsAndAppliesTheNewPolicy(t *testing.T) {
	g := startLiveGateway(t, reloadV1, Registries{})
	const clients = 30
	stop := make(chan struct{})
	var sawV2 atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		c := g.dial(t, "/chat")
		wg.Add(1)
		go func() {
			defer wg.Done()
			counted := false
			for {
				select {
				case <-stop:
					return
				case <-c.Done():
					t.Errorf("client %d disconnected during reloads: %s", i, c.Reason())
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
				args, err := c.EmitWithAck(ctx, "/chat", "ping")
				cancel()
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				var reply string
				_ = json.Unmarshal(args[0], &reply)
				if reply != "v1" && reply != "v2" {
					t.Errorf("client %d: reply %s", i, args[0])
					return
				}
				if reply == "v2" && !counted {
					counted = true
					sawV2.Add(1)
				}
				// 50 events a second, under the default flood limit.
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	probe := g.dial(t, "/chat")
	if got := ackOf(t, probe, "/chat", "join", map[string]string{"room": "a"}); got["ok"] != true {
		t.Fatalf("join before reload: %v", got)
	}
	time.Sleep(200 * time.Millisecond)

	parse := func(text string) *gatewayconfig.Config {
		cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(text), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	v2 := strings.NewReplacer(`'"v1"'`, `'"v2"'`, "max_rooms_per_socket: 10", "max_rooms_per_socket: 1").Replace(reloadV1)
	if _, err := g.gw.Reload(context.Background(), parse(v2)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	// The new room limit applies to a socket connected before the reload.
	if got := ackOf(t, probe, "/chat", "join", map[string]string{"room": "b"}); errorCode(got) != "limit_exceeded" {
		t.Fatalf("second room after the reload: %v, want limit_exceeded", got)
	}

	broken := strings.Replace(v2, "reply:", "replyy:", 1)
	if _, err := g.gw.Reload(context.Background(), parse(broken)); err == nil || !strings.Contains(err.Error(), "replyy") {
		t.Fatalf("broken reload: %v, want it refused naming the mistake", err)
	}

	deadline := time.Now().Add(limitsWait)
	for sawV2.Load() < clients && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := sawV2.Load(); n != clients {
		t.Errorf("%d of %d clients saw the reloaded reply", n, clients)
	}
}
