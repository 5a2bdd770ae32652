package adapter

import (
	"context"
	"testing"
	"time"
)

func TestRedisTakeTokenSharesOneBucketBetweenNodes(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	b := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	waitUp(t, b)
	ctx := context.Background()
	const interval = time.Minute
	takes := []struct {
		node *Redis
		key  string
		want bool
	}{
		{a, "ratelimit:chat:key:alice", true},
		{b, "ratelimit:chat:key:alice", true},
		{a, "ratelimit:chat:key:alice", false}, // burst 2 spent across both nodes
		{b, "ratelimit:chat:key:alice", false},
		{b, "ratelimit:chat:key:bob", true}, // a bucket per key
	}
	for i, tk := range takes {
		ok, wait, err := tk.node.TakeToken(ctx, tk.key, interval, 2)
		if err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		if ok != tk.want {
			t.Fatalf("take %d of %s: ok %v, want %v", i, tk.key, ok, tk.want)
		}
		if !ok && (wait <= 0 || wait > interval) {
			t.Errorf("take %d: retry after %v, want within (0, %v]", i, wait, interval)
		}
	}
	keys, err := a.client.Keys(ctx, "test:ratelimit:chat:key:*").Result()
	if err != nil || len(keys) != 2 {
		t.Errorf("keys under the adapter's prefix: %v (%v), want alice's and bob's", keys, err)
	}
}

func TestRedisTakeTokenReportsAnOutageAsAnError(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, _, err := a.TakeToken(ctx, "ratelimit:chat:key:alice", time.Second, 1); err == nil {
		t.Fatalf("take with redis down: ok %v and no error", ok)
	}
}

func TestRedisTakeTokenRefusesAnEmptyBucket(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	for _, tc := range []struct {
		interval time.Duration
		burst    int
	}{{0, 1}, {time.Second, 0}} {
		if _, _, err := a.TakeToken(context.Background(), "k", tc.interval, tc.burst); err == nil {
			t.Errorf("interval %v burst %d: no error", tc.interval, tc.burst)
		}
	}
}
