package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// awaitEvent waits for the next event named name on nsp, skipping others.
func awaitEvent(t *testing.T, c *sioclient.Client, nsp, name string) sioclient.Event {
	t.Helper()
	deadline := time.After(limitsWait)
	for {
		select {
		case ev := <-c.Events():
			if ev.Namespace == nsp && ev.Name == name {
				return ev
			}
		case <-c.Done():
			t.Fatalf("disconnected (%s) while waiting for %s", c.Reason(), name)
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

// A WebSocket socket is warned of its token's expiry with the seconds left,
// and a refresh re-arms its timers for the new token: it outlives the old
// token's exp.
func TestWebSocketWarnedOfExpiryOutlivesItsTokenAfterRefresh(t *testing.T) {
	g, _ := startTokenLifeGateway(t, "disconnect", "0s")
	c := g.dial(t, "")
	token, exp := shortLivedToken(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if _, err := c.Connect(ctx, "/chat", map[string]string{"token": token}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	// The token expires within the default warning, so it comes at once.
	warned := awaitEvent(t, c, "/chat", eventAuthExpiring)
	var warning struct {
		ExpiresIn *float64 `json:"expires_in"`
	}
	if len(warned.Args) != 1 || json.Unmarshal(warned.Args[0], &warning) != nil || warning.ExpiresIn == nil ||
		*warning.ExpiresIn < 0 || *warning.ExpiresIn > 2 {
		t.Fatalf("auth:expiring %s, want expires_in within the token's 2 s", warned.Args)
	}
	fresh := lifeToken(t, jwt.MapClaims{"sub": "alice", "v": 2.0})
	if ack := ackOf(t, c, "/chat", eventAuthRefresh, map[string]string{"token": fresh}); ack["ok"] != true {
		t.Fatalf("auth:refresh acked %v", ack)
	}
	sleepPast(exp)
	if who := ackOf(t, c, "/chat", "whoami", nil); who["v"] != 2.0 {
		t.Fatalf("whoami after the old token's exp = %v, want the new token's claims", who)
	}
}
