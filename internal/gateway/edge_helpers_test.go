package gateway

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// edgeScale is how many attacking sockets the edge tests open: a few by
// default, so that each test runs in seconds, and many under `make edge`
// (GATEHOUSE_EDGE_LONG=1).
func edgeScale(short, long int) int {
	if os.Getenv("GATEHOUSE_EDGE_LONG") != "" {
		return long
	}
	return short
}

// skipHeavyUnderRace skips a test that pipelines tens of megabytes and
// measures the heap meanwhile: under the race detector the gateway reads
// them so slowly that the events are still on their way (held by the test's
// own client) when the heap is measured. The logic it covers runs under
// the race detector in the lighter tests.
func skipHeavyUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("pipelines tens of MB: too slow under the race detector to measure the heap meaningfully")
	}
}

// heapInUse is the live heap after a full collection: what the process
// holds, not what it allocated.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// rawClient is an attacker's Engine.IO session over a WebSocket: it writes
// exactly the frames a test gives it, answers pings so the session stays
// up, and records the text packets it receives.
type rawClient struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	done    chan struct{}

	mu      sync.Mutex
	packets []string
}

// dialRaw opens a WebSocket session on g and connects the namespace nsp.
func dialRaw(t testing.TB, g *liveGateway, nsp string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, g.url+"?EIO=4&transport=websocket", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, open, err := ws.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		t.Fatalf("no open packet: %q %v", open, err)
	}
	c := &rawClient{ws: ws, done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { _ = ws.Close(); <-c.done })
	c.text("40" + nsp + ",")
	c.await(t, "the CONNECT ack", func(p string) bool { return strings.HasPrefix(p, "0"+nsp+",") })
	return c
}

func (c *rawClient) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case len(data) > 0 && data[0] == '2':
			c.text("3")
		case len(data) > 0 && data[0] == '4':
			c.mu.Lock()
			c.packets = append(c.packets, string(data[1:]))
			c.mu.Unlock()
		}
	}
}

// text sends a text frame, a Socket.IO packet when it starts with "4";
// errors are ignored: an attacker writes on until the server hangs up.
func (c *rawClient) text(s string) bool { return c.frame(websocket.TextMessage, []byte(s)) }

// binary sends one binary frame (an attachment).
func (c *rawClient) binary(b []byte) bool { return c.frame(websocket.BinaryMessage, b) }

func (c *rawClient) frame(kind int, data []byte) bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(limitsWait))
	return c.ws.WriteMessage(kind, data) == nil
}

// closed reports whether the server ended the session within d.
func (c *rawClient) closed(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// await waits for a received packet that match accepts.
func (c *rawClient) await(t testing.TB, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, p := range c.packets {
			if match(p) {
				c.mu.Unlock()
				return p
			}
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s received", what)
	return ""
}

// mib renders a byte count for failure messages.
func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
