package guards_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

// startRedisServer runs a redis-server on a free port until the test ends
// and returns its URL and a func that kills it.
func startRedisServer(t *testing.T) (string, func()) {
	t.Helper()
	url, cmd := runRedisServer(t)
	return url, func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
}

// runRedisServer runs a redis-server on a free port until the test ends
// and returns its URL and its process.
func runRedisServer(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on PATH (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not listen: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://127.0.0.1:" + strconv.Itoa(port) + "/0", cmd
}

// buildOnNode builds a rate_limit guard declared as name from src on a node
// whose host shares the Redis at url, as the gateway builds it with
// adapter: redis.
func buildOnNode(t *testing.T, url, name, src string, logger *slog.Logger) guards.Guard {
	t.Helper()
	host := gatehousetest.RedisHost(t, url, gatehouse.HostOptions{Logger: logger})
	return gatehousetest.Decl{Name: name, Host: host}.Guard(t, "rate_limit", src)
}

func TestRateLimitRedisStoreSharesTheBucketAcrossNodesAndFailsOpen(t *testing.T) {
	url, stopRedis := startRedisServer(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	const src = "{key: user, rate: 1, per: 1m, burst: 2, store: redis}"
	node1 := buildOnNode(t, url, "chat", src, logger)
	node2 := buildOnNode(t, url, "chat", src, logger)
	if !gatehouse.MayBlock(node1) {
		t.Errorf("a rate_limit on the shared store says it never blocks")
	}
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hi"}`)
	ctx := context.Background()
	for i, g := range []guards.Guard{node1, node2} {
		if err := g.Check(ctx, in); err != nil {
			t.Fatalf("event %d of the burst denied: %v", i+1, err)
		}
	}
	denial := checkResult(t, node1.Check(ctx, in), gatehouse.CodeRateLimited, "")
	if ms, _ := denial.Data["retry_after_ms"].(int); ms <= 0 || ms > 60_000 {
		t.Errorf("retry_after_ms = %#v, want within (0, 60000]", denial.Data["retry_after_ms"])
	}
	bobFields := aliceFields()
	bobFields.ID, bobFields.Claims = "sock-bob", gatehouse.Claims{"sub": "bob"}
	if err := node2.Check(ctx, gatehousetest.Input(gatehousetest.NewSocket(bobFields), "sendMessage", `{}`)); err != nil {
		t.Errorf("bob, whose bucket is his own, denied: %v", err)
	}

	stopRedis()
	for i := range 3 {
		if err := node2.Check(ctx, in); err != nil {
			t.Fatalf("event %d with the store down denied (a limiter outage must not deny): %v", i+1, err)
		}
	}
	if n := strings.Count(logs.String(), "shared store failed"); n != 1 {
		t.Errorf("store outage logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestRateLimitRedisStoreAnswersByItsTimeoutWhileRedisStalls stalls the
// redis-server (SIGSTOP: connections stay open, nothing is answered), as a
// Redis that hangs does: the guard lets the event through (fail open) once
// its own 500 ms deadline passes, rather than after the adapter's 2 s read
// timeout.
func TestRateLimitRedisStoreAnswersByItsTimeoutWhileRedisStalls(t *testing.T) {
	url, redisServer := runRedisServer(t)
	g := buildOnNode(t, url, "chat", "{key: user, rate: 1, per: 1m, burst: 5, store: redis}", nil)
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hi"}`)
	// Warm the connection so that the stall hits a call, not a dial.
	if err := g.Check(context.Background(), in); err != nil {
		t.Fatalf("before the stall: %v", err)
	}
	if err := redisServer.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = redisServer.Process.Signal(syscall.SIGCONT) }()
	start := time.Now()
	err := g.Check(context.Background(), in)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("with Redis stalled the event was denied (a limiter outage must not deny): %v", err)
	}
	// The guard's deadline is 500 ms; the adapter's read timeout, which it
	// waited before, is 2 s. The bound sits between, with room for a
	// loaded machine.
	if took > 1500*time.Millisecond {
		t.Fatalf("the guard answered after %s with Redis stalled, want about its 500ms timeout", took)
	}
}
