package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

const handshakeSecret = "handshake-test-secret-0123456789"

// handshakeConfig admits /team sockets whose CONNECT auth payload names the
// red team, and tells each one its handshake.auth on connection.
const handshakeConfig = `
auth:
  jwt:
    secret: ` + handshakeSecret + `
    algorithms: [HS256]
guards:
  red_team:
    expr:
      condition: 'handshake.auth.?team.orValue("") == "red"'
      message: red team only
namespaces:
  /team:
    auth: required
    guards: [red_team]
    on_connect:
      - emit: {event: auth, data: '{"auth": handshake.auth, "sub": user.sub}'}
    events:
      later:
        handler:
          reply: {value: handshake.auth}
`

// startLoggedGateway serves text on a free port, logging at debug level
// into the returned buffer.
func startLoggedGateway(t *testing.T, text string) (url string, logs func() string) {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := serveLiveGateway(t, text, Options{Logger: logger})
	return g.url, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

func handshakeToken(t *testing.T, sub string) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(handshakeSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// nextEvent waits for the client's next event.
func nextEvent(t *testing.T, c *sioclient.Client) sioclient.Event {
	t.Helper()
	select {
	case ev := <-c.Events():
		return ev
	case <-time.After(limitsWait):
		t.Fatal("no event from the gateway")
	}
	return sioclient.Event{}
}

func TestHandshakeAuthReachesConnectGuardsAndOnConnectWithoutTheToken(t *testing.T) {
	url, logs := startLoggedGateway(t, handshakeConfig)
	tests := []struct {
		name     string
		auth     map[string]any
		wantCode string
		wantAuth string
	}{
		{"the red team is admitted and told its payload, token left out", map[string]any{"team": "red", "seat": 3}, "", `{"auth":{"seat":3,"team":"red"},"sub":"alice"}`},
		{"the blue team is refused by the connect guard", map[string]any{"team": "blue"}, "forbidden", ""},
		{"no team is refused", map[string]any{}, "forbidden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			defer cancel()
			c, err := sioclient.Dial(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			auth := map[string]any{"token": handshakeToken(t, "alice")}
			for k, v := range tt.auth {
				auth[k] = v
			}
			_, err = c.Connect(ctx, "/team", auth)
			if tt.wantCode != "" {
				var refused *sioclient.ConnectError
				if err == nil || !errors.As(err, &refused) || refused.Code() != tt.wantCode {
					t.Fatalf("connect error = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			ev := nextEvent(t, c)
			if ev.Name != "auth" || len(ev.Args) != 1 || string(ev.Args[0]) != tt.wantAuth {
				t.Fatalf("on connection got %s %s, want auth %s", ev.Name, ev.Args, tt.wantAuth)
			}
			// Not held past on_connect: an event sees {}.
			args, err := c.EmitWithAck(ctx, "/team", "later")
			if err != nil || len(args) != 1 || string(args[0]) != `{}` {
				t.Fatalf("handshake.auth in an event = %s (%v), want {}", args, err)
			}
		})
	}
	// A refused token too: the secret reaches no log line.
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	forged := handshakeToken(t, "mallory") + "forged"
	if _, err := c.Connect(ctx, "/team", map[string]any{"token": forged, "team": "red"}); err == nil {
		t.Fatal("a forged token was admitted")
	}
	out := logs()
	if !strings.Contains(out, "connect refused") {
		t.Fatalf("the debug log shows no refused connect; the check below proves nothing:\n%s", out)
	}
	for _, secret := range []string{handshakeToken(t, "alice")[:40], forged[:40], "forged"} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log holds a token (%q):\n%s", secret, out)
		}
	}
}

func TestHandshakeAuthIsWholeWithoutJWT(t *testing.T) {
	g := startLiveGateway(t, `
namespaces:
  /:
    on_connect:
      - emit: {event: auth, data: handshake.auth}
`, Registries{})
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Connect(ctx, "/", json.RawMessage(`{"token":"123"}`)); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, c)
	if ev.Name != "auth" || len(ev.Args) != 1 || string(ev.Args[0]) != `{"token":"123"}` {
		t.Fatalf("got %s %s, want auth {\"token\":\"123\"}", ev.Name, ev.Args)
	}
}
