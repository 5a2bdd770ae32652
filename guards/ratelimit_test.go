package guards_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

// fakeClock is the host's clock a rate_limit guard reads, moved by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// buildRateLimit builds a rate_limit guard on a host whose clock the test
// moves.
func buildRateLimit(t testing.TB, options string) (guards.Guard, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	host := gatehouse.NewHost(gatehouse.HostOptions{Now: clock.Now})
	return gatehousetest.Decl{Host: host}.Guard(t, "rate_limit", options), clock
}

func TestRateLimitGuardAllowsABurstThenRefills(t *testing.T) {
	g, clock := buildRateLimit(t, "{key: user, rate: 10, per: 1s, burst: 20}")
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hi"}`)
	ctx := context.Background()
	for i := range 20 {
		if err := g.Check(ctx, in); err != nil {
			t.Fatalf("message %d of the burst denied: %v", i+1, err)
		}
	}
	denial := checkResult(t, g.Check(ctx, in), gatehouse.CodeRateLimited, "too many requests; retry in 100 ms")
	if denial.Data["retry_after_ms"] != 100 {
		t.Fatalf("retry_after_ms = %#v, want 100", denial.Data["retry_after_ms"])
	}
	// Denied calls do not use up future tokens.
	for range 5 {
		checkResult(t, g.Check(ctx, in), gatehouse.CodeRateLimited, "")
	}
	clock.advance(100 * time.Millisecond)
	if err := g.Check(ctx, in); err != nil {
		t.Fatalf("after 100ms one token is back, got %v", err)
	}
	checkResult(t, g.Check(ctx, in), gatehouse.CodeRateLimited, "")
	clock.advance(40 * time.Millisecond)
	denial = checkResult(t, g.Check(ctx, in), gatehouse.CodeRateLimited, "")
	if denial.Data["retry_after_ms"] != 60 {
		t.Fatalf("retry_after_ms = %#v, want 60", denial.Data["retry_after_ms"])
	}
}

func TestRateLimitGuardKeys(t *testing.T) {
	bob := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "sock-bob", IP: "10.0.0.1", Claims: gatehouse.Claims{"sub": "bob", "tenant": "acme"}})
	tab2 := aliceFields()
	tab2.ID, tab2.IP = "sock-alice-2", "10.0.0.9"
	aliceTab2 := gatehousetest.NewSocket(tab2)
	acme := aliceFields()
	acme.Claims["tenant"] = "acme"
	alice1 := gatehousetest.NewSocket(acme)
	second := anonymousFields()
	second.ID = "sock-anon-2"
	anon1, anon2 := anonymous(), gatehousetest.NewSocket(second)
	aliceNamedLikeASocket := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "sock-x", Claims: gatehouse.Claims{"sub": anon1.ID()}})

	tests := []struct {
		name         string
		key          string
		first        gatehouse.Socket
		second       gatehouse.Socket
		sharesBucket bool
	}{
		{"user: two tabs of one user share", "user", alice1, aliceTab2, true},
		{"user: different users do not", "user", alice1, bob, false},
		{"user: sockets without a token fall back to the socket", "user", anon1, anon2, false},
		{"user: a sub equal to a socket id is not that socket", "user", anon1, aliceNamedLikeASocket, false},
		{"socket: two tabs do not share", "socket", alice1, aliceTab2, false},
		{"ip: one address shares", "ip", alice1, bob, true},
		{"ip: different addresses do not", "ip", alice1, aliceTab2, false},
		{"claim: one tenant shares", "claim:tenant", alice1, bob, true},
		{"claim: a missing claim falls back to the socket", "claim:tenant", aliceTab2, anon1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := buildRateLimit(t, fmt.Sprintf("{key: '%s', rate: 1, per: 1m, burst: 1}", tt.key))
			ctx := context.Background()
			if err := g.Check(ctx, gatehousetest.Input(tt.first, "e", `{}`)); err != nil {
				t.Fatalf("first call denied: %v", err)
			}
			err := g.Check(ctx, gatehousetest.Input(tt.second, "e", `{}`))
			if shared := err != nil; shared != tt.sharesBucket {
				t.Fatalf("second socket denied = %v, want %v (err %v)", shared, tt.sharesBucket, err)
			}
		})
	}
}

// The defaults are seen from the bucket: burst is how many events pass at
// once, and the rate is the wait for the next token once they have.
func TestRateLimitGuardDefaults(t *testing.T) {
	tests := []struct {
		options     string
		wantBurst   int
		wantRetryMS int // 1/rate per second
	}{
		{"{key: socket, rate: 2.5}", 3, 400},           // burst ceil(2.5), 2.5/s
		{"{key: socket, rate: 30, per: 1m}", 30, 2000}, // burst 30, 0.5/s
	}
	for _, tt := range tests {
		t.Run(tt.options, func(t *testing.T) {
			g, _ := buildRateLimit(t, tt.options)
			ctx := context.Background()
			in := gatehousetest.Input(alice(), "e", `{}`)
			for i := range tt.wantBurst {
				if err := g.Check(ctx, in); err != nil {
					t.Fatalf("event %d of a burst of %d denied: %v", i+1, tt.wantBurst, err)
				}
			}
			denial := checkResult(t, g.Check(ctx, in), gatehouse.CodeRateLimited, "")
			if denial.Data["retry_after_ms"] != tt.wantRetryMS {
				t.Fatalf("retry_after_ms = %#v, want %d", denial.Data["retry_after_ms"], tt.wantRetryMS)
			}
		})
	}
}

func TestRateLimitGuardMemoryStaysBounded(t *testing.T) {
	g, clock := buildRateLimit(t, "{key: ip, rate: 1, per: 1s, burst: 1}")
	ctx := context.Background()
	const shardCapacity = 64
	guards.SetRateLimitShardCapacity(g, shardCapacity)
	limit := guards.RateShards * shardCapacity
	for i := range limit + 5000 {
		s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s", IP: fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255)})
		if err := g.Check(ctx, gatehousetest.Input(s, "e", "")); err != nil {
			t.Fatalf("first call from a new address denied: %v", err)
		}
	}
	if n := guards.RateLimitBuckets(g); n > limit {
		t.Fatalf("%d buckets, more than the bound %d", n, limit)
	}
	// Once the buckets have refilled, they are swept when room is needed
	// instead of evicting active ones. Half the bound of new keys leaves
	// every shard room to spare, so the busy bucket must survive.
	clock.advance(2 * time.Second)
	busy := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "busy", IP: "192.168.0.1"})
	_ = g.Check(ctx, gatehousetest.Input(busy, "e", ""))
	for i := range limit / 2 {
		s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s", IP: fmt.Sprintf("172.%d.%d.%d", i>>16, i>>8&255, i&255)})
		_ = g.Check(ctx, gatehousetest.Input(s, "e", ""))
	}
	checkResult(t, g.Check(ctx, gatehousetest.Input(busy, "e", "")), gatehouse.CodeRateLimited, "")
	if n := guards.RateLimitBuckets(g); n > limit/2+1 {
		t.Fatalf("%d buckets after the sweep, want at most %d", n, limit/2+1)
	}
}

func TestRateLimitGuardRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		pos     string
		msg     string
	}{
		{"no key", "{rate: 1}", "1:10", "key is required"},
		{"unknown key", "{key: users, rate: 1}", "1:16", `unknown key "users" (did you mean "user"?)`},
		{"empty claim name", "{key: 'claim:', rate: 1}", "1:16", `unknown key "claim:"`},
		{"zero rate", "{key: user, rate: 0}", "1:28", "rate must be a number above 0"},
		{"missing rate", "{key: user}", "1:10", "rate must be a number above 0"},
		{"negative burst", "{key: user, rate: 1, burst: -1}", "1:38", "burst must be at least 1"},
		{"redis store without the redis adapter", "{key: user, rate: 1, store: redis}", "1:38", "store redis needs the Redis adapter"},
		{"unknown store", "{key: user, rate: 1, store: redis2}", "1:38", `unknown store "redis2" (did you mean "redis"?)`},
		{"bad duration", "{key: user, rate: 1, per: fast}", "1:36", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, "rate_limit", tt.options)
			wantConfigError(t, err, tt.pos, tt.msg)
		})
	}
}

func BenchmarkGuard_rate_limit(b *testing.B) {
	g := gatehousetest.Guard(b, "rate_limit", "{key: user, rate: 1e9, burst: 1000000000}")
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hi"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
