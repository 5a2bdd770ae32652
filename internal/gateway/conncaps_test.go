package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

const capsSecret = "connection-caps-test-secret-of-32-bytes"

// capsConfig caps each user at two sockets per namespace and /lobby at two
// sockets in all; /admin refuses non-admins in a connect guard.
const capsConfig = `
server:
  limits:
    max_connections_per_user: 2
auth:
  jwt:
    secret: ` + capsSecret + `
    algorithms: [HS256]
guards:
  admins_only:
    claims: {role: admin}
namespaces:
  /chat: {}
  /admin:
    guards: [admins_only]
  /lobby:
    auth: optional
    max_connections: 2
`

func capsToken(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(capsSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// connectAs opens a session and connects nsp with token (none when empty);
// the client is closed when the test ends. err is the CONNECT's refusal.
func connectAs(t testing.TB, g *liveGateway, nsp, token string) (*sioclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var auth any
	if token != "" {
		auth = map[string]any{"token": token}
	}
	_, err = c.Connect(ctx, nsp, auth)
	return c, err
}

// refusedWith asserts that err is a CONNECT_ERROR with code and data.limit.
func refusedWith(t testing.TB, err error, code, limit string) {
	t.Helper()
	var refused *sioclient.ConnectError
	if !errors.As(err, &refused) {
		t.Fatalf("CONNECT: err = %v, want a %s refusal", err, code)
	}
	if refused.Code() != code || refused.Data["limit"] != limit {
		t.Fatalf("CONNECT refused with %v (%q), want code %s and limit %s", refused.Data, refused.Message, code, limit)
	}
}

// eventuallyConnects retries a CONNECT until it is accepted: a socket's
// place is given back just after it leaves.
func eventuallyConnects(t testing.TB, g *liveGateway, nsp, token string) *sioclient.Client {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for {
		c, err := connectAs(t, g, nsp, token)
		if err == nil {
			return c
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("CONNECT to %s still refused: %v", nsp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPerUserCapRefusesTheConnectPastItUntilASocketLeaves(t *testing.T) {
	g := startLiveGateway(t, capsConfig, Registries{})
	alice := capsToken(t, jwt.MapClaims{"sub": "alice"})
	first, err := connectAs(t, g, "/chat", alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectAs(t, g, "/chat", alice); err != nil {
		t.Fatal(err)
	}
	_, err = connectAs(t, g, "/chat", alice)
	refusedWith(t, err, "limit_exceeded", "max_connections_per_user")
	if got := g.gw.LimitRefusals()[limitConnsPerUser]; got != 1 {
		t.Fatalf("refusals counted = %d, want 1", got)
	}
	// Another user, and alice in another namespace, are not held back.
	if _, err := connectAs(t, g, "/chat", capsToken(t, jwt.MapClaims{"sub": "bob"})); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if _, err := connectAs(t, g, "/lobby", alice); err != nil {
		t.Fatalf("alice in /lobby: %v", err)
	}
	_ = first.Close()
	eventuallyConnects(t, g, "/chat", alice)
}

func TestAConnectGuardsRefusalGivesThePlaceBack(t *testing.T) {
	g := startLiveGateway(t, capsConfig, Registries{})
	member := capsToken(t, jwt.MapClaims{"sub": "carol", "role": "member"})
	for range 5 {
		_, err := connectAs(t, g, "/admin", member)
		var refused *sioclient.ConnectError
		if !errors.As(err, &refused) || refused.Code() != "forbidden" {
			t.Fatalf("a member in /admin: err = %v, want forbidden", err)
		}
	}
	admin := capsToken(t, jwt.MapClaims{"sub": "carol", "role": "admin"})
	if _, err := connectAs(t, g, "/admin", admin); err != nil {
		t.Fatalf("carol as admin, after five refusals by the guard: %v", err)
	}
}

func TestNamespaceCapCountsEverySocketAnonymousOrNot(t *testing.T) {
	g := startLiveGateway(t, capsConfig, Registries{})
	anonymous, err := connectAs(t, g, "/lobby", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectAs(t, g, "/lobby", capsToken(t, jwt.MapClaims{"sub": "dave"})); err != nil {
		t.Fatal(err)
	}
	_, err = connectAs(t, g, "/lobby", "")
	refusedWith(t, err, "unavailable", "namespace_max_connections")
	_ = anonymous.Close()
	eventuallyConnects(t, g, "/lobby", "")
}

// Attack: a client holding one valid token opens a session and sends
// CONNECT after CONNECT past the cap. Each is refused, and what the
// refusals leave behind stays flat: no place is kept, no count grows.
func TestRefusedConnectsPastTheUserCapHoldNothing(t *testing.T) {
	skipHeavyUnderRace(t)
	g := startLiveGateway(t, capsConfig, Registries{})
	token := capsToken(t, jwt.MapClaims{"sub": "mallory"})
	for range 2 {
		if _, err := connectAs(t, g, "/chat", token); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attacker, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	auth := map[string]any{"token": token}
	refuse := func(n int) {
		for range n {
			_, err := attacker.Connect(ctx, "/chat", auth)
			refusedWith(t, err, "limit_exceeded", "max_connections_per_user")
		}
	}
	// The first refusals fill what is bounded anyway (the log's and the
	// operator view's rings); then the heap must stay flat.
	refuse(300)
	before := heapInUse()
	const attempts = 2000
	refuse(attempts)
	after := heapInUse()
	const budget = 128 << 10
	t.Logf("%d refused CONNECTs: heap %d -> %d bytes (%+d)", attempts, before, after, after-before)
	if after > before+budget {
		t.Fatalf("%d refused CONNECTs grew the heap by %d bytes, over the %d budget", attempts, after-before, budget)
	}
	counts := g.gw.cluster.connCounter().(interface{ Count(string) int })
	if n := counts.Count(connKeyUserPrefix + "/chat mallory"); n != 2 {
		t.Fatalf("mallory counts %d sockets, want the 2 connected", n)
	}
}

// Attack: one user races CONNECTs on two gateways sharing a Redis; the cap
// holds for the two together, and every place comes back when the sockets
// leave.
func TestPerUserCapHoldsAcrossTwoGatewaysOnRedis(t *testing.T) {
	url, _ := startStallableRedis(t)
	cfg := strings.Replace(capsConfig, "    max_connections_per_user: 2\n",
		"    max_connections_per_user: 3\nadapter:\n  kind: redis\n  redis: {url: \""+url+"\"}\n", 1)
	a, b := startLiveGateway(t, cfg, Registries{}), startLiveGateway(t, cfg, Registries{})
	token := capsToken(t, jwt.MapClaims{"sub": "erin"})

	const racers = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted []*sioclient.Client
	refused := 0
	for i := range racers {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connectAs(t, g, "/chat", token)
			mu.Lock()
			defer mu.Unlock()
			var ce *sioclient.ConnectError
			switch {
			case err == nil:
				accepted = append(accepted, c)
			case errors.As(err, &ce) && ce.Code() == "limit_exceeded":
				refused++
			default:
				t.Errorf("CONNECT: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(accepted) != 3 || refused != racers-3 {
		t.Fatalf("%d racing CONNECTs on two gateways: %d accepted, %d refused; want 3 and %d", racers, len(accepted), refused, racers-3)
	}
	if got := a.gw.LimitRefusals()[limitConnsPerUser] + b.gw.LimitRefusals()[limitConnsPerUser]; got != racers-3 {
		t.Fatalf("refusals counted = %d, want %d", got, racers-3)
	}

	for _, c := range accepted {
		_ = c.Close()
	}
	// Every place comes back: three sockets connect again, on either node.
	for i := range 3 {
		eventuallyConnects(t, []*liveGateway{a, b}[i%2], "/chat", token)
	}
	_, err := connectAs(t, a, "/chat", token)
	refusedWith(t, err, "limit_exceeded", "max_connections_per_user")
}

func TestConnCapsNameTheUserByTheirClaimAndTheNamespace(t *testing.T) {
	st := &state{cfg: &gatewayconfig.Config{Server: gatewayconfig.Server{Limits: gatewayconfig.Limits{
		MaxConnectionsPerUser: 5, UserClaim: "uid"}}}}
	chat := &namespaceRuntime{name: "/chat"}
	lobby := &namespaceRuntime{name: "/lobby", maxConnections: 7}
	tests := []struct {
		name   string
		ns     *namespaceRuntime
		claims gatehouse.Claims
		want   []string // key=limit
	}{
		{"string claim", chat, gatehouse.Claims{"uid": "alice", "sub": "ignored"}, []string{"user /chat alice=5"}},
		{"number claim", chat, gatehouse.Claims{"uid": float64(42)}, []string{"user /chat 42=5"}},
		{"a space in the id cannot reach another namespace's key", chat, gatehouse.Claims{"uid": "x /lobby y"}, []string{"user /chat x /lobby y=5"}},
		{"no such claim", chat, gatehouse.Claims{"sub": "alice"}, nil},
		{"empty claim", chat, gatehouse.Claims{"uid": ""}, nil},
		{"object claim", chat, gatehouse.Claims{"uid": map[string]any{"a": 1}}, nil},
		{"anonymous", chat, nil, nil},
		{"namespace cap, anonymous", lobby, nil, []string{"namespace /lobby=7"}},
		{"both", lobby, gatehouse.Claims{"uid": "bob"}, []string{"user /lobby bob=5", "namespace /lobby=7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range st.connCaps(tc.ns, tc.claims) {
				got = append(got, fmt.Sprintf("%s=%d", c.Key, c.Limit))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("caps = %q, want %q", got, tc.want)
			}
		})
	}
}

// While Redis does not answer, a CONNECT is decided on this node's own
// counts after a short timeout, not held for as long as the outage lasts.
func TestPerUserCapFallsBackToTheNodesCountsWhileRedisStalls(t *testing.T) {
	url, stall := startStallableRedis(t)
	cfg := strings.Replace(capsConfig, "    max_connections_per_user: 2\n",
		"    max_connections_per_user: 2\nadapter:\n  kind: redis\n  redis: {url: \""+url+"\"}\n", 1)
	g := startLiveGateway(t, cfg, Registries{})
	grace := capsToken(t, jwt.MapClaims{"sub": "grace"})
	if _, err := connectAs(t, g, "/chat", grace); err != nil {
		t.Fatal(err)
	}
	resume := stall()
	defer resume()

	start := time.Now()
	if _, err := connectAs(t, g, "/chat", grace); err != nil {
		t.Fatalf("grace's second socket while Redis stalls: %v", err)
	}
	took := time.Since(start)
	t.Logf("a CONNECT while Redis stalls was decided in %v", took.Round(time.Millisecond))
	// The counter gives Redis 500 ms; the Redis client's own read
	// timeout (2 s) is not what decides.
	if took > 1500*time.Millisecond {
		t.Fatalf("a CONNECT waited %v for a stalled Redis", took)
	}
	_, err := connectAs(t, g, "/chat", grace)
	refusedWith(t, err, "limit_exceeded", "max_connections_per_user")
}
