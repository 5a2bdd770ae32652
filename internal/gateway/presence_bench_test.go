package gateway

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/expr"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// BenchmarkPresenceExpression measures what a guard pays per event for
// 'presence.member(data.room, user.sub) || presence.count(data.room) < 50'
// on a socket that is not in a room of 100 users: on one node (the
// node's index, walked by presence.count) and on two nodes sharing a
// redis-server (the cluster's figures, read from the node's cache without
// waiting on the network).
func BenchmarkPresenceExpression(b *testing.B) {
	const users = 100
	program, err := expr.Compile(`presence.member(data.room, user.sub) || presence.count(data.room) < 50`)
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"memory", "redis"} {
		b.Run(kind, func(b *testing.B) {
			g, asker := benchPresenceRoom(b, kind, users)
			vars, err := expr.VarsFor(asker, "say", gatehouse.NewPayload([]byte(`{"room":"room-bench"}`)))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			// The first reads fill the cache (with Redis); wait until the
			// figures are the cluster's.
			deadline := time.Now().Add(10 * time.Second)
			for asker.PresenceCount("room-bench") != users {
				if time.Now().After(deadline) {
					b.Fatalf("presence.count is %d, want %d", asker.PresenceCount("room-bench"), users)
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if ok, err := program.EvalBool(ctx, vars); err != nil || ok {
					b.Fatalf("%v %v", ok, err)
				}
			}
			b.StopTimer()
			_ = g
		})
	}
}

// benchPresenceRoom starts a gateway (two on one redis-server for kind
// "redis", the room's users split between them) with users in room-bench,
// and returns a socket of another user, not in the room.
func benchPresenceRoom(b *testing.B, kind string, users int) (*liveGateway, *socketio.Socket) {
	b.Helper()
	nodes := make([]*liveGateway, 1, 2)
	if kind == "redis" {
		url := startBenchRedis(b)
		nodes[0] = serveLiveGateway(b, clusterPresenceConfig(url), Options{})
		nodes = append(nodes, serveLiveGateway(b, clusterPresenceConfig(url), Options{}))
	} else {
		nodes[0] = startLiveGateway(b, presenceConfig("", 1000)+presenceClusterEvents, Registries{})
	}
	for i := 0; i < users; i++ {
		c, err := presenceClient(nodes[i%len(nodes)], presenceToken(b, fmt.Sprintf("u%03d", i)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := emitRoom(c, "join", "room-bench"); err != nil {
			b.Fatal(err)
		}
	}
	c, err := presenceClient(nodes[0], presenceToken(b, "asker"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	for _, s := range nodes[0].gw.sockets.Sockets("/chat") {
		if s.Claims().Subject() == "asker" {
			return nodes[0], s
		}
	}
	b.Fatal("the asker's socket is not on the node")
	return nil, nil
}

// startBenchRedis runs a redis-server on a free port until the benchmark
// ends and returns its URL.
func startBenchRedis(b *testing.B) string {
	b.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(limitsWait); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return "redis://" + addr + "/0"
		}
		if time.Now().After(deadline) {
			b.Fatal("redis-server did not listen")
		}
	}
}
