package engineio

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// writeCountingListener counts the Write calls made on the connections it
// accepts, all together.
type writeCountingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l writeCountingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return writeCountingConn{Conn: conn, writes: l.writes}, nil
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// startCountingServer is startServer with the writes on its connections
// counted.
func startCountingServer(t *testing.T, h Handler) (*testServer, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	writes := new(atomic.Int64)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := NewServer(Options{}, h)
	srv.OwnHijackedConns(app.Server())
	srv.Mount(app, "/socket.io/")
	served := make(chan error, 1)
	go func() { served <- app.Listener(srv.WrapListener(writeCountingListener{ln, writes})) }()
	ts := &testServer{srv: srv, addr: ln.Addr().String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = srv.Shutdown(ctx)
		appCtx, appCancel := context.WithTimeout(context.Background(), waitLimit)
		defer appCancel()
		if err := app.ShutdownWithContext(appCtx); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		<-served
	})
	return ts, writes
}

// Packets queued from another goroutine than the socket's reader (a
// broadcast) start a writer; the writer lets the goroutines already
// runnable go first, so what they queue meanwhile leaves in the same
// write instead of one write each. One P makes the order of the
// goroutines fixed: the sender queues a packet and yields, as a
// broadcaster moving on to the next socket would be preempted.
func TestPacketsQueuedWhileTheWriterWaitsItsTurnShareOneWrite(t *testing.T) {
	rec := newRecorder(false)
	ts, writes := startCountingServer(t, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	conn := rec.nextConn(t)

	const packets = 12
	before := writes.Load()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	done := make(chan error, 1)
	go func() {
		for i := range packets {
			if err := conn.Send(Message{Data: []byte(fmt.Sprint("m", i))}); err != nil {
				done <- err
				return
			}
			runtime.Gosched()
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range packets {
		expectText(t, ws, fmt.Sprint("4m", i))
	}
	runtime.GOMAXPROCS(2)
	got := writes.Load() - before
	// A writer that wrote at once would make one write per packet.
	if got > packets*2/3 {
		t.Errorf("%d packets queued one after another took %d writes, want at most %d", packets, got, packets*2/3)
	}
	t.Logf("%d packets, %d writes", packets, got)
}
