package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// planConfig is a /chat whose say broadcasts to every socket, with
// namespaceExtra (recovery, history) under /chat.
func planConfig(namespaceExtra string) string {
	return `
server:
  limits:
    flood: {rate: 100000, burst: 100000}
namespaces:
  /chat:
` + namespaceExtra + `
    events:
      say:
        handler: {broadcast: {event: said, data: data}}
`
}

// nextSaid waits for the next "said" event on c and returns its arguments.
func nextSaid(t *testing.T, c *sioclient.Client) []json.RawMessage {
	t.Helper()
	deadline := time.After(limitsWait)
	for {
		select {
		case ev := <-c.Events():
			if ev.Name == "said" {
				return ev.Args
			}
		case <-deadline:
			t.Fatal("no said event")
			return nil
		}
	}
}

// What a broadcast does besides reaching the sockets is decided when the
// config is built: a reload that turns recovery on makes the next
// broadcasts recorded (they carry their offset, a last argument), one that
// turns it off again stops it, for the sockets already connected.
func TestAReloadDecidesAgainWhetherBroadcastsAreRecorded(t *testing.T) {
	g := startLiveGateway(t, planConfig(""), Registries{})
	c := g.dial(t, "/chat")
	steps := []struct {
		name     string
		extra    string
		wantArgs int
	}{
		{"recovery off at start", "", 1},
		{"recovery turned on", "    recovery: {max_disconnection: 1m}", 2},
		{"recovery turned off", "", 1},
	}
	for i, step := range steps {
		if i > 0 {
			next, err := gatewayconfig.Parse("gateway.yaml", []byte(planConfig(step.extra)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.gw.Reload(context.Background(), next); err != nil {
				t.Fatalf("%s: reload: %v", step.name, err)
			}
		}
		if err := c.Emit("/chat", "say", step.name); err != nil {
			t.Fatal(err)
		}
		args := nextSaid(t, c)
		if len(args) != step.wantArgs {
			t.Errorf("%s: said came with %d arguments %s, want %d", step.name, len(args), args, step.wantArgs)
		}
		var offset string
		if step.wantArgs == 2 && len(args) == 2 && (json.Unmarshal(args[1], &offset) != nil || offset == "") {
			t.Errorf("%s: the last argument %s is not an offset", step.name, args[1])
		}
	}
}
