package engineio

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// memoryInUse is the heap and stack memory after a full collection.
func memoryInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// BenchmarkIdlePollingSessionMemory reports the memory one idle polling
// session costs the server, sessions created through the real server.
func BenchmarkIdlePollingSessionMemory(b *testing.B) {
	ts := startServer(b, Options{PingInterval: time.Hour, PingTimeout: time.Hour}, idleHandler{})
	ts.client = &http.Client{}
	defer ts.client.CloseIdleConnections()

	before := memoryInUse()
	for b.Loop() {
		resp, err := ts.client.Get(ts.url("EIO=4&transport=polling"))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	after := memoryInUse()
	if n := ts.srv.SessionCount(); n != b.N {
		b.Fatalf("%d sessions open, want %d", n, b.N)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/session")
}

// BenchmarkIdleWebSocketSessionMemory reports the memory of one idle
// WebSocket session; the figure includes the client's end of the
// connection, which lives in the same process.
func BenchmarkIdleWebSocketSessionMemory(b *testing.B) {
	ts := startServer(b, Options{PingInterval: time.Hour, PingTimeout: time.Hour}, idleHandler{})

	conns := make([]*fws.Conn, 0, b.N)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	before := memoryInUse()
	for b.Loop() {
		c, resp, err := fws.DefaultDialer.Dial(ts.wsURL("EIO=4&transport=websocket"), nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	after := memoryInUse()
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/session")
}

// idleHandler opens sessions that ignore everything.
type idleHandler struct{}

func (idleHandler) Open(Conn) Listener { return idleListener{} }

type idleListener struct{}

func (idleListener) OnMessage(Message) {}
func (idleListener) OnClose(string)    {}
