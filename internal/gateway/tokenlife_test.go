package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// These tests play a client whose token dies while it is connected or
// connecting: the gateway must judge a token by the moment it is used.

const tokenLifeSecret = "token-life-test-secret-of-32-bytes!"

// tokenLifeConfig serves /chat (auth required, a counting connect guard and
// on_connect handler), /open (auth optional) and /public (auth none). %s is auth.on_expiry and
// %s the leeway.
const tokenLifeConfig = `
auth:
  on_expiry: %s
  jwt:
    secret: ` + tokenLifeSecret + `
    algorithms: [HS256]
    leeway: %s
guards:
  seen:
    count_connects: {}
namespaces:
  /chat:
    auth: required
    guards: [seen]
    on_connect:
      - count_on_connect: {}
    events:
      whoami:
        handler:
          reply: {value: user}
  /open:
    auth: optional
    events:
      whoami:
        handler:
          reply: {value: user}
  /public:
    auth: none
    events:
      whoami:
        handler:
          reply: {value: user}
`

// connectCounts counts what ran for CONNECTs: the connect guard and the
// on_connect handler.
type connectCounts struct {
	guard, onConnect atomic.Int64
}

// countingRegistries are the default registries plus the guard
// count_connects and the handler count_on_connect, which count into n.
func countingRegistries(n *connectCounts) Registries {
	gs := guards.NewRegistry()
	for _, name := range guards.Default().Names() {
		f, _ := guards.Default().Lookup(name)
		gs.Register(name, f)
	}
	gs.Register("count_connects", func(gatewayconfig.Options) (guards.Guard, error) {
		return guards.GuardFunc(func(context.Context, *guards.Input) error {
			n.guard.Add(1)
			return nil
		}), nil
	})
	hs := handlers.NewRegistry()
	for _, name := range handlers.Default().Names() {
		f, _ := handlers.Default().Lookup(name)
		hs.Register(name, f)
	}
	hs.Register("count_on_connect", func(gatewayconfig.Options) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(context.Context, *handlers.Call) (any, error) {
			n.onConnect.Add(1)
			return nil, nil
		}), nil
	})
	return Registries{Guards: gs, Handlers: hs}
}

// startTokenLifeGateway serves tokenLifeConfig with onExpiry and leeway.
func startTokenLifeGateway(t *testing.T, onExpiry, leeway string) (*liveGateway, *connectCounts) {
	t.Helper()
	n := &connectCounts{}
	return startLiveGateway(t, fmt.Sprintf(tokenLifeConfig, onExpiry, leeway), countingRegistries(n)), n
}

// lifeToken signs claims with the test secret; exp is added when absent.
func lifeToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(tokenLifeSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// shortLivedToken is a token for sub that expires within about two
// seconds; it returns the token and its exp.
func shortLivedToken(t *testing.T, sub string) (string, time.Time) {
	t.Helper()
	exp := time.Unix(time.Now().Add(2*time.Second).Unix(), 0)
	return lifeToken(t, jwt.MapClaims{"sub": sub, "exp": exp.Unix()}), exp
}

// sleepPast waits until a little after exp.
func sleepPast(exp time.Time) {
	time.Sleep(time.Until(exp.Add(300 * time.Millisecond)))
}

func TestConnectAfterTheHandshakeTokenExpiredIsRefused(t *testing.T) {
	tests := []struct {
		name     string
		onExpiry string
		leeway   string
		wantCode string // "" when the CONNECT is accepted
	}{
		{"expired since the handshake", "disconnect", "0s", "token_expired"},
		{"expired since the handshake, on_expiry ignore", "ignore", "0s", "token_expired"},
		{"expired since the handshake but within the leeway", "disconnect", "30s", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, counts := startTokenLifeGateway(t, tc.onExpiry, tc.leeway)
			token, exp := shortLivedToken(t, "alice")
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			defer cancel()
			// The token is valid at the handshake...
			c, err := sioclient.Dial(ctx, g.url+"?token="+token)
			if err != nil {
				t.Fatalf("handshake with a valid token: %v", err)
			}
			defer c.Close()
			// ...and the CONNECT comes once it has expired.
			sleepPast(exp)
			ctx, cancel = context.WithTimeout(context.Background(), limitsWait)
			defer cancel()
			_, err = c.Connect(ctx, "/chat", nil)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("CONNECT within the leeway refused: %v", err)
				}
				if got := ackOf(t, c, "/chat", "whoami", nil); got["sub"] != "alice" {
					t.Fatalf("whoami = %v, want the handshake's claims", got)
				}
				return
			}
			var refused *sioclient.ConnectError
			if !errorAs(err, &refused) || refused.Code() != tc.wantCode {
				t.Fatalf("CONNECT with an expired handshake token: err = %v, want connect_error %s", err, tc.wantCode)
			}
			if got := counts.guard.Load(); got != 0 {
				t.Errorf("the connect guard ran %d times on a dead token", got)
			}
			if got := counts.onConnect.Load(); got != 0 {
				t.Errorf("on_connect ran %d times on a dead token", got)
			}
			// The optional namespace refuses the dead token too rather
			// than run events with its claims.
			_, err = c.Connect(ctx, "/open", nil)
			if !errorAs(err, &refused) || refused.Code() != tc.wantCode {
				t.Fatalf("CONNECT to an optional namespace with an expired handshake token: err = %v, want %s", err, tc.wantCode)
			}
			// A namespace that ignores tokens takes the socket, as an
			// anonymous one: the dead token's claims are not handed on.
			if _, err := c.Connect(ctx, "/public", nil); err != nil {
				t.Fatalf("CONNECT to an auth: none namespace: %v", err)
			}
			if got := ackOf(t, c, "/public", "whoami", nil); len(got) != 0 {
				t.Fatalf("claims on an auth: none namespace after the token expired: %v, want none", got)
			}
		})
	}
}

// errorAs is errors.As for a *sioclient.ConnectError target.
func errorAs(err error, target **sioclient.ConnectError) bool {
	e, ok := err.(*sioclient.ConnectError)
	if ok {
		*target = e
	}
	return ok
}

func TestRefreshRequiresTheSameStringSubject(t *testing.T) {
	g, _ := startTokenLifeGateway(t, "disconnect", "0s")
	tests := []struct {
		name     string
		nsp      string
		old      jwt.MapClaims // nil: the socket connects without a token
		fresh    jwt.MapClaims
		wantCode string // "" when the refresh is accepted
	}{
		{"same sub", "/chat", jwt.MapClaims{"sub": "alice"}, jwt.MapClaims{"sub": "alice", "v": 2.0}, ""},
		{"different sub", "/chat", jwt.MapClaims{"sub": "alice"}, jwt.MapClaims{"sub": "bob"}, "forbidden"},
		{"new token without sub", "/chat", jwt.MapClaims{"sub": "alice"}, jwt.MapClaims{"v": 2.0}, "unauthorized"},
		{"new token with a numeric sub", "/chat", jwt.MapClaims{"sub": "alice"}, jwt.MapClaims{"sub": 42}, "unauthorized"},
		{"neither token has a sub", "/chat", jwt.MapClaims{"role": "a"}, jwt.MapClaims{"role": "b"}, "forbidden"},
		{"both subs are the same number", "/chat", jwt.MapClaims{"sub": 42}, jwt.MapClaims{"sub": 42}, "forbidden"},
		{"numeric sub then a string sub", "/chat", jwt.MapClaims{"sub": 42}, jwt.MapClaims{"sub": "42"}, "forbidden"},
		{"empty string subs", "/chat", jwt.MapClaims{"sub": ""}, jwt.MapClaims{"sub": ""}, "forbidden"},
		{"anonymous socket", "/open", nil, jwt.MapClaims{"sub": "alice"}, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := g.dial(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			defer cancel()
			var auth any
			if tc.old != nil {
				auth = map[string]string{"token": lifeToken(t, tc.old)}
			}
			if _, err := c.Connect(ctx, tc.nsp, auth); err != nil {
				t.Fatalf("connect: %v", err)
			}
			before := ackOf(t, c, tc.nsp, "whoami", nil)
			ack := ackOf(t, c, tc.nsp, "auth:refresh", map[string]string{"token": lifeToken(t, tc.fresh)})
			after := ackOf(t, c, tc.nsp, "whoami", nil)
			if got := errorCode(ack); got != tc.wantCode {
				t.Fatalf("auth:refresh acked %v, want code %q", ack, tc.wantCode)
			}
			if tc.wantCode == "" {
				if after["v"] != 2.0 {
					t.Fatalf("claims after the refresh = %v, want the new token's", after)
				}
				return
			}
			if msg, _ := ack["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "sub") && !strings.Contains(msg, "subject") && !strings.Contains(msg, "without one") {
				t.Errorf("refusal message %q does not say what is wrong", msg)
			}
			if !sameJSON(before, after) {
				t.Fatalf("a refused refresh changed the claims: %v, then %v", before, after)
			}
		})
	}
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
