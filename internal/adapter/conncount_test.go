package adapter

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// countingNode is one node's Redis connection counter with a short ttl.
func countingNode(t *testing.T, srv *redisServer, ttl time.Duration) *redisConns {
	t.Helper()
	opts, err := redis.ParseURL(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	client := redis.NewClient(opts)
	c := newRedisConns(client, "test", newNodeID(), ttl, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		_ = c.Close()
		_ = client.Close()
	})
	return c
}

// clusterCount sums key's counts over the nodes Redis holds as live.
func clusterCount(t *testing.T, c *redisConns, key string) int {
	t.Helper()
	ctx := context.Background()
	now, err := c.client.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	nodes, err := c.client.ZRangeByScore(ctx, c.nodesKey, &redis.ZRangeBy{Min: strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		t.Fatalf("live nodes: %v", err)
	}
	total := 0
	for _, node := range nodes {
		n, err := c.client.HGet(ctx, c.hashOf+node, key).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("HGET: %v", err)
		}
		total += n
	}
	return total
}

func acquire(c ConnCounter, key string, limit int) bool {
	return c.Acquire(context.Background(), []Cap{{Key: key, Limit: limit}}) == -1
}

func TestConnCounterCapHoldsAcrossNodes(t *testing.T) {
	srv := startRedis(t)
	a, b := countingNode(t, srv, DefaultConnCountTTL), countingNode(t, srv, DefaultConnCountTTL)

	if !acquire(a, "u:alice", 3) || !acquire(a, "u:alice", 3) || !acquire(b, "u:alice", 3) {
		t.Fatal("the first three connections of alice were refused")
	}
	if acquire(a, "u:alice", 3) || acquire(b, "u:alice", 3) {
		t.Fatal("a fourth connection of alice was counted, on one node or the other")
	}
	if !acquire(b, "u:bob", 3) {
		t.Fatal("bob was refused for alice's connections")
	}
	a.Release([]string{"u:alice"})
	if !acquire(b, "u:alice", 3) {
		t.Fatal("a place given back on node A was not taken on node B")
	}
	if got := clusterCount(t, a, "u:alice"); got != 3 {
		t.Fatalf("alice's cluster count = %d, want 3", got)
	}
	if got := a.Count("u:alice") + b.Count("u:alice"); got != 3 {
		t.Fatalf("alice's counts in memory = %d, want 3", got)
	}
}

func TestConnCounterTakesAllCapsOrNone(t *testing.T) {
	srv := startRedis(t)
	a := countingNode(t, srv, DefaultConnCountTTL)
	caps := []Cap{{Key: "u:/chat:alice", Limit: 5}, {Key: "n:/chat", Limit: 2}}
	for range 2 {
		if full := a.Acquire(context.Background(), caps); full != -1 {
			t.Fatalf("Acquire = %d, want -1", full)
		}
	}
	if full := a.Acquire(context.Background(), caps); full != 1 {
		t.Fatalf("Acquire past the namespace cap = %d, want 1 (the namespace's cap)", full)
	}
	if got := clusterCount(t, a, "u:/chat:alice"); got != 2 {
		t.Fatalf("a refused Acquire counted the user anyway: %d, want 2", got)
	}
}

func TestConnCounterForgetsADeadNodeWithinTheTTL(t *testing.T) {
	srv := startRedis(t)
	const ttl = 600 * time.Millisecond
	dead, alive := countingNode(t, srv, ttl), countingNode(t, srv, ttl)
	for range 2 {
		if !acquire(dead, "u:alice", 2) {
			t.Fatal("refused below the cap")
		}
	}
	// The node dies: no heartbeat, no Close.
	dead.closed.Store(true)
	dead.cancel()
	<-dead.done
	died := time.Now()
	if acquire(alive, "u:alice", 2) {
		t.Fatal("the dead node's connections were forgotten at once")
	}
	for !acquire(alive, "u:alice", 2) {
		if time.Since(died) > ttl+time.Second {
			t.Fatalf("the dead node's connections still count %v after it died (ttl %v)", time.Since(died), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConnCounterWritesItsCountsAgainAfterRedisRestarts(t *testing.T) {
	srv := startRedis(t)
	const ttl = 600 * time.Millisecond
	a, b := countingNode(t, srv, ttl), countingNode(t, srv, ttl)
	for range 3 {
		if !acquire(a, "u:alice", 3) {
			t.Fatal("refused below the cap")
		}
	}
	srv.stop()
	// Redis is down: each node counts alone, the cap per node.
	if !acquire(b, "u:alice", 3) {
		t.Fatal("node B refused alice while Redis is down, though it holds none of hers")
	}
	a.Release([]string{"u:alice"})
	srv.start() // empty: every count is gone

	// Each node's heartbeat writes its counts again: 2 on A, 1 on B.
	deadline := time.Now().Add(5 * time.Second)
	for clusterCount(t, a, "u:alice") != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("alice's cluster count is %d after Redis restarted, want 3 again", clusterCount(t, a, "u:alice"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if acquire(a, "u:alice", 3) {
		t.Fatal("a fourth connection of alice was counted once Redis was back")
	}
}

func TestConnCounterCloseTakesTheNodesCountsOut(t *testing.T) {
	srv := startRedis(t)
	a, b := countingNode(t, srv, DefaultConnCountTTL), countingNode(t, srv, DefaultConnCountTTL)
	if !acquire(a, "u:alice", 1) {
		t.Fatal("refused below the cap")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !acquire(b, "u:alice", 1) {
		t.Fatal("a closed node's connection still counts")
	}
}

func TestLocalConnCounterForgetsKeysAtZero(t *testing.T) {
	l := NewConnCounter(NewMemory(nil), nil).(*localConns)
	if !acquire(l, "u:alice", 1) || acquire(l, "u:alice", 1) {
		t.Fatal("the local cap of 1 did not hold")
	}
	l.Release([]string{"u:alice"})
	if len(l.counts) != 0 {
		t.Fatalf("a released key is still held: %v", l.counts)
	}
}
