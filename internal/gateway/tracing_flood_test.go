package gateway

import (
	"io"
	"net"
	"sync"
	"testing"
)

// hangingCollector accepts connections and reads them without ever
// answering: an OTLP collector that hangs, so that every export waits for
// its timeout.
type hangingCollector struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  sync.WaitGroup
}

func startHangingCollector(t *testing.T) *hangingCollector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hangingCollector{ln: ln}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, conn) }()
		}
	}()
	t.Cleanup(h.close)
	return h
}

// close stops listening and cuts every connection, so that an export in
// progress fails at once.
func (h *hangingCollector) close() {
	_ = h.ln.Close()
	h.mu.Lock()
	for _, conn := range h.conns {
		_ = conn.Close()
	}
	h.conns = nil
	h.mu.Unlock()
	h.done.Wait()
}

// spanFloodBudget is what the spans of a flood may hold while the
// collector hangs: the export queue (2048 spans) and the batch being sent
// (512), at well under 2 KiB a span, with room for the runtime's noise.
const spanFloodBudget = 8 << 20

func TestSpansOfAnEventFloodWhileTheCollectorHangsStayWithinTheExportQueue(t *testing.T) {
	skipHeavyUnderRace(t)
	// The SDK's own queue would take its size from here: the gateway's
	// bound must hold whatever the environment says.
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "10000000")
	collector := startHangingCollector(t)
	g := startLiveGateway(t, `
server:
  limits:
    flood: {rate: 0}
  tracing:
    enabled: true
    endpoint: http://`+collector.ln.Addr().String()+`
namespaces:
  /traced:
    auth: none
    events:
      ping:
        handler:
          reply: {value: 'true'}
`, Registries{})
	c := g.dial(t, "/traced")
	events := edgeScale(30000, 100000)
	before := heapInUse()
	for range events {
		if err := c.Emit("/traced", "ping", map[string]int{"n": 1}); err != nil {
			t.Fatalf("emit: %v", err)
		}
	}
	// A socket's events are handled in order: once this one is answered,
	// every span of the flood has been made and queued or dropped.
	if ack := ackOf(t, c, "/traced", "ping", nil); len(ack) != 0 {
		t.Fatalf("last ping answered %v", ack)
	}
	grown := heapInUse() - before
	t.Logf("%d events traced while the collector hangs: heap grew %s (budget %s)", events, mib(grown), mib(spanFloodBudget))
	if grown > spanFloodBudget {
		t.Fatalf("the spans of %d events hold %s while the collector hangs, over the %s budget", events, mib(grown), mib(spanFloodBudget))
	}
	collector.close()
}
