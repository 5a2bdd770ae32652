package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The many-sender fan-out keeps each sender to the server's per-user limit:
// with the same bucket on both sides nothing is refused, and without the
// pacing the server refuses, so the limit is really in force.
func TestManySendersKeepToThePerUserLimit(t *testing.T) {
	t.Setenv("RATE_LIMIT", "5")
	t.Setenv("RATE_BURST", "2")
	addr := startGateway(t)
	base := options{
		scenario: "fanout", target: "gatehouse", addr: addr, path: "/socket.io/", namespace: "/chat", secret: testSecret,
		conns: 10, concurrency: 5, duration: 1500 * time.Millisecond, window: 8, senders: 4, perSource: 8, timeout: time.Minute,
	}
	// The senders keep a little under the server's bucket (4/s, 1 at once
	// against 5/s, 2 at once): a message that waited in a loaded machine's
	// queues and arrives right behind the next one must not make the run
	// depend on scheduling.
	paced := base
	paced.senderRate, paced.senderBurst = 4, 1
	r, err := run(context.Background(), paced)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// 4 senders, each 1 at once and 4/s after: at most 4 × (1 + 4 × 1.5).
	if r.Senders != 4 || r.SenderRate != 4 || r.Errors != 0 || r.Lost != 0 || r.Sent == 0 || r.OK != r.Sent*10 || r.Sent > 4*(2+8) {
		t.Errorf("paced: want every message delivered to the 10 receivers, none refused, at most 40 sent; got %+v", r)
	}
	unpaced := base
	r, err = run(context.Background(), unpaced)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if r.Errors == 0 {
		t.Errorf("unpaced: want some messages refused by the per-user limit; got %+v", r)
	}
}

func TestSenderBucketWaitsAsTheServersBucketRefills(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name        string
		rate, burst float64
		at          []time.Duration // when each send is asked for, from start
		waits       []bool          // whether it has to wait
	}{
		{"unpaced", 0, 1, []time.Duration{0, 0, 0}, []bool{false, false, false}},
		{"burst then wait", 10, 2, []time.Duration{0, 0, 0}, []bool{false, false, true}},
		{"refilled", 10, 2, []time.Duration{0, 0, 250 * time.Millisecond}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newSenderBucket(tt.rate, tt.burst)
			for i, at := range tt.at {
				if got := b.wait(start.Add(at)) > 0; got != tt.waits[i] {
					t.Errorf("send %d at %v: waits %v, want %v", i, at, got, tt.waits[i])
				}
			}
		})
	}
}

// redisCommandStats counts the commands a real redis-server ran, leaving
// out its own INFO.
func TestRedisCommandsPerMessageCountWhatTheServerRan(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conn net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		if conn, err = net.Dial("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("redis-server did not answer: %v", err)
	}
	defer conn.Close()
	ctx := context.Background()
	before, err := redisCommandStats(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for i := range 6 {
		if _, err := fmt.Fprintf(conn, "SET k%d v\r\nPING\r\n", i); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	after, err := redisCommandStats(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	calls, detail := redisPerMessage(before, after, 3)
	if calls != 4 || !strings.Contains(detail, "ping=2.00") || !strings.Contains(detail, "set=2.00") || strings.Contains(detail, "info") {
		t.Errorf("12 commands over 3 messages: got %.2f per message (%s)", calls, detail)
	}
}
