package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const idleDrainConfig = `
server:
  shutdown_grace: 20s
namespaces:
  /chat:
    events: {}
`

// TestShutdownDoesNotWaitForPollingSessionThatStoppedPolling opens one
// polling session on a real gateway and never polls it again: it has no
// transport to carry a close packet, so Shutdown closes it at once rather
// than wait out the grace for a GET that will not come.
func TestShutdownDoesNotWaitForPollingSessionThatStoppedPolling(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	g := serveLiveGateway(t, idleDrainConfig, Options{Logger: newTestLogger(&mu, &logs)})

	client := &http.Client{Timeout: limitsWait, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + g.addr + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "0{") {
		t.Fatalf("handshake answered %d %q", resp.StatusCode, body)
	}
	if n := g.gw.SessionCount(); n != 1 {
		t.Fatalf("SessionCount = %d, want the polling session", n)
	}

	// The whole grace, as the run command gives it on SIGTERM.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	// stop reports Shutdown's error, else Serve's.
	if err := g.stop(ctx); err != nil {
		t.Fatalf("Shutdown or Serve: %v (the run command logs a Shutdown error as an incomplete shutdown)", err)
	}
	// Generous: what matters is that the grace was not waited out.
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Shutdown took %v with one idle polling session", took)
	}
	if n := g.gw.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d after Shutdown", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "incomplete") {
		t.Fatalf("Shutdown logged a warning:\n%s", logs.String())
	}
}
