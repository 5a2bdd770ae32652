package gateway

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// heapAfterGC is the heap in use once garbage is collected.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// A client that churns connections, each joining a room with a long name,
// while the hooks' backend hangs, makes the gateway buffer four events per
// cycle (connect, occupied, vacated, disconnect). The buffer must hold no
// more than server.hooks.buffer_bytes, and the process no more than that
// and its own noise, however long the churn goes on.
func TestHooksBufferStaysWithinItsByteBudgetWhileAClientChurnsConnections(t *testing.T) {
	b := startHookBackend(t)
	b.SetHang()
	const budget = 256 << 10
	g := startLiveGateway(t, hooksGatewayConfig(b.URL(), fmt.Sprintf("buffer: 100000\n    buffer_bytes: %d", budget), ""), Registries{})
	token := signedToken(t, "mallory")
	churn := func(cycles int) {
		for i := range cycles {
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			c, err := sioclient.Dial(ctx, g.url)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			if _, err := c.Connect(ctx, "/chat", map[string]string{"token": token}); err != nil {
				cancel()
				t.Fatal(err)
			}
			room := fmt.Sprintf("%06d", i) + strings.Repeat("r", 32<<10)
			if _, err := c.EmitWithAck(ctx, "/chat", "join", map[string]string{"room": room}); err != nil {
				cancel()
				t.Fatal(err)
			}
			_ = c.Close()
			cancel()
		}
	}
	idle := func() {
		deadline := time.Now().Add(limitsWait)
		for g.gw.engine.SessionCount() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	churn(50) // warms the process's pools
	idle()
	before := heapAfterGC()
	const cycles = 200 // about 13 MiB of events offered
	churn(cycles)
	idle()
	grown := heapAfterGC() - before
	st := g.gw.Lifecycle().Stats()
	if st.BufferedBytes > budget {
		t.Errorf("the buffer counts %d bytes, over its %d budget", st.BufferedBytes, budget)
	}
	if st.Overflowed == 0 {
		t.Errorf("stats %+v: the churn overflowed nothing", st)
	}
	const allowed = budget + 2<<20 // the budget and the process's own noise
	if grown > allowed {
		t.Errorf("heap grew %d KiB over %d cycles, allowed %d KiB (buffer budget %d KiB)", grown>>10, cycles, allowed>>10, budget>>10)
	}
	t.Logf("%d cycles: %d events buffered (%d KiB), %d overflowed; heap grew %d KiB", cycles, st.Buffered, st.BufferedBytes>>10, st.Overflowed, grown>>10)
}
