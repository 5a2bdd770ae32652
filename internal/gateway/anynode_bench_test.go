package gateway

import (
	"bytes"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkAnyNodePolling measures one event round trip of a polling
// session (a POST carrying an event with an ack, then GETs until the ack
// comes) with cluster.any_node on, every request sent to the node that
// holds the session (owner) or to another node, which forwards it
// (non-owner): one session's round trips one after another (latency),
// and 16 sessions per CPU each with one event in flight (throughput). Run:
//
//	go test -run '^$' -bench BenchmarkAnyNodePolling -benchtime 3000x ./internal/gateway
func BenchmarkAnyNodePolling(b *testing.B) {
	url := benchRedis(b)
	// The default heartbeat: a loaded machine does not time sessions out.
	owner := startAnyNodeGatewayPinging(b, url, "anynode-bench", "20s")
	other := startAnyNodeGatewayPinging(b, url, "anynode-bench", "20s")
	for _, tc := range []struct {
		name     string
		via      *anyNodeGateway
		sessions int // per CPU; 0: one session, round trips one after another
	}{
		{"owner/sequential", owner, 0}, {"non-owner/sequential", other, 0},
		{"owner/parallel", owner, 16}, {"non-owner/parallel", other, 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := &fasthttp.Client{MaxConnsPerHost: 1024}
			var failed atomic.Int64
			var total atomic.Int64 // nanoseconds of every round trip
			run := func(sid string, next func() bool) {
				for next() {
					start := time.Now()
					if !benchRoundTrip(client, tc.via.addr, sid) {
						failed.Add(1)
					}
					total.Add(int64(time.Since(start)))
				}
			}
			if tc.sessions == 0 {
				sid := benchSession(b, client, owner.addr)
				b.ResetTimer()
				i := 0
				run(sid, func() bool { i++; return i <= b.N })
			} else {
				b.SetParallelism(tc.sessions)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) { run(benchSession(b, client, owner.addr), pb.Next) })
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d round trips failed", n, b.N)
			}
			b.ReportMetric(float64(total.Load())/float64(b.N)/1e3, "µs/roundtrip")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

// benchSession opens a polling session at addr with a CONNECT done.
func benchSession(b *testing.B, client *fasthttp.Client, addr string) string {
	status, body := benchDo(client, fasthttp.MethodGet, pollingURL(addr, ""), "")
	if status != fasthttp.StatusOK || !strings.HasPrefix(body, "0{") {
		b.Errorf("handshake: %d %q", status, body)
		return ""
	}
	sid := body[strings.Index(body, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	benchDo(client, fasthttp.MethodPost, pollingURL(addr, sid), "40")
	for i := 0; i < 10; i++ {
		if _, body := benchDo(client, fasthttp.MethodGet, pollingURL(addr, sid), ""); strings.Contains(body, "40{") {
			return sid
		}
	}
	b.Errorf("no CONNECT answer for %s", sid)
	return sid
}

// benchRoundTrip sends an event with an ack through addr and polls there
// until the ack is in, answering pings on the way.
func benchRoundTrip(client *fasthttp.Client, addr, sid string) bool {
	u := pollingURL(addr, sid)
	if status, _ := benchDo(client, fasthttp.MethodPost, u, `421["echo","x"]`); status != fasthttp.StatusOK {
		return false
	}
	for i := 0; i < 10; i++ {
		status, body := benchDo(client, fasthttp.MethodGet, u, "")
		if status != fasthttp.StatusOK {
			return false
		}
		acked, ok := false, false
		for _, p := range strings.Split(body, "\x1e") {
			switch {
			case p == "2":
				benchDo(client, fasthttp.MethodPost, u, "3")
			case strings.HasPrefix(p, "431"):
				acked, ok = true, p == `431["x"]`
			}
		}
		if acked {
			return ok
		}
	}
	return false
}

func benchDo(client *fasthttp.Client, method, url, body string) (int, string) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	if body != "" {
		req.Header.SetContentType("text/plain;charset=UTF-8")
		req.SetBodyString(body)
	}
	if err := client.DoTimeout(req, resp, 10*time.Second); err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode(), string(resp.Body())
}

// benchRedis starts a redis-server on a free port for the benchmark.
func benchRedis(b *testing.B) string {
	b.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Skip("redis-server not installed")
	}
	_, port, _ := net.SplitHostPort(freeAddr(b))
	var out bytes.Buffer
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(limitsWait); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			conn.Close()
			return "redis://127.0.0.1:" + port + "/0"
		}
		if time.Now().After(deadline) {
			b.Fatalf("redis-server did not listen\n%s", out.String())
		}
	}
}
