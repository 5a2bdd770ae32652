package gateway

import (
	"bytes"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startStallableRedis starts a redis-server on a free port for one test and
// returns its URL and a function that stalls it (SIGSTOP) until the
// returned resume is called, as a Redis busy with DEBUG SLEEP or swapped
// out would.
func startStallableRedis(t *testing.T) (url string, stall func() (resume func())) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed; apt-get install redis-server to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out bytes.Buffer
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(limitsWait)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stall = func() func() {
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		return func() { _ = cmd.Process.Signal(syscall.SIGCONT) }
	}
	return "redis://127.0.0.1:" + strconv.Itoa(port) + "/0", stall
}

func TestEventsPipelinedWhileRedisStallsHoldAtMostTheQueueBudget(t *testing.T) {
	skipHeavyUnderRace(t)
	url, stall := startStallableRedis(t)
	g := startLiveGateway(t, strings.ReplaceAll(`
adapter:
  kind: redis
  redis: {url: "URL"}
server:
  limits:
    flood: {rate: 100000, burst: 100000}
namespaces:
  /a:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
      say:
        handler: {broadcast: {event: said, to: '"nobody"', data: data}}
`, "URL", url), Registries{})
	sockets := edgeScale(2, 16)
	const events, size = 16, 900 << 10
	payload := blob(size)
	clients := make([]*pipelined, sockets)
	for i := range clients {
		c, sid := connectSocket(t, g)
		clients[i] = &pipelined{client: c, sid: sid}
	}
	// Every event goes through the socket's queue with a distributed
	// adapter; with Redis stalled, the first of each socket waits on it.
	resume := stall()
	defer resume()
	before := heapInUse()
	for i, p := range clients {
		clients[i] = pipeline(p.client, p.sid, "say", payload, events)
	}
	for _, p := range clients {
		awaitArrived(t, g, p, events)
	}
	// An honest client of the same gateway is answered meanwhile: its
	// event waits on nothing.
	honestPings(t, g)
	held := heapInUse() - before
	// Per socket: the queue's 4MB and the running broadcast's copies of
	// its event (the packet, the adapter's message, the Redis client's
	// write buffer).
	budget := int64(sockets) * (4<<20 + 3<<20)
	t.Logf("%d sockets × %d events of %d KiB with Redis stalled: heap +%s (budget %s)", sockets, events, size>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("events waiting on Redis hold %s, budget %s", mib(held), mib(budget))
	}
	resume()
	// Each event is answered: run (the adapter delivers locally and counts
	// what Redis missed), or refused payload_too_large while the queue was
	// full. How many of each depends on when the adapter noticed the
	// outage, after which events no longer wait on Redis.
	for _, p := range clients {
		got := p.answers(t, events)
		t.Logf("socket %s: answers %v", p.sid, got)
		for code := range got {
			if code != "" && code != "payload_too_large" && code != "upstream_error" && code != "upstream_timeout" {
				t.Errorf("answers %v: want each event run or refused payload_too_large", got)
			}
		}
	}
}
