package engineio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sys/unix"
)

// tcpPair returns both ends of a loopback TCP connection: the accepted
// one as Go's net package keeps it, and the client's.
func tcpPair(t *testing.T, ln net.Listener) (*net.TCPConn, net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return server.(*net.TCPConn), client
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// takenPair is tcpPair with the server's end taken from the net package.
func takenPair(t *testing.T, ln net.Listener) (*fdConn, net.Conn) {
	t.Helper()
	server, client := tcpPair(t, ln)
	c := new(fdConn)
	if !c.take(server) {
		t.Fatal("a plain *net.TCPConn was not taken")
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, client
}

func descriptorOf(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// The property the runtime's fd lock gave: once a socket the poller took
// is closed, its number may be another socket's, and nothing done with the
// old one reaches that socket.
func TestFdConnCallsAfterCloseNeverReachTheSocketThatTookItsNumber(t *testing.T) {
	ln := listenLoopback(t)
	old, _ := takenPair(t, ln)
	number := int(old.fd)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	// The kernel gives the lowest free number to the next socket.
	var next *net.TCPConn
	var client net.Conn
	for range 20 {
		next, client = tcpPair(t, ln)
		if descriptorOf(t, next) == number {
			break
		}
		next = nil
	}
	if next == nil {
		t.Fatalf("no new connection got descriptor %d back", number)
	}

	late := []byte("late bytes of a closed socket")
	if n, err := old.Write(late); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %d, %v; want 0, net.ErrClosed", n, err)
	}
	ran := false
	if err := old.rawCall(func(fd uintptr) bool {
		ran = true
		_, _ = unix.Write(int(fd), late)
		return true
	}); !errors.Is(err, net.ErrClosed) || ran {
		t.Errorf("a non-blocking write after Close: %v, run %v; want net.ErrClosed, not run", err, ran)
	}
	if err := old.Control(func(uintptr) { ran = true }); !errors.Is(err, net.ErrClosed) || ran {
		t.Errorf("Control after Close: %v, run %v; want net.ErrClosed, not run", err, ran)
	}
	if err := old.SetWriteDeadline(time.Now()); err != nil {
		t.Errorf("SetWriteDeadline after Close: %v", err)
	}
	if err := old.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a second Close = %v, want net.ErrClosed", err)
	}

	// The new connection's client reads only what its own server end wrote.
	if _, err := next.Write([]byte("fresh")); err != nil {
		t.Fatal(err)
	}
	_ = next.Close()
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "fresh" {
		t.Fatalf("the new connection's client read %q, %v; want only \"fresh\"", got, err)
	}
}

// blockedWrite starts a write far larger than the socket buffers of a
// client that reads nothing, and returns once it waits for writability.
func blockedWrite(t *testing.T, c *fdConn) <-chan error {
	t.Helper()
	_ = c.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096) })
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 16<<20))
		done <- err
	}()
	eventually(t, "the write to wait for the socket", func() bool {
		w := c.waits.Load()
		if w == nil {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.ch != nil
	})
	return done
}

func TestFdConnWriterWaitingForWritabilityIsWoken(t *testing.T) {
	tests := []struct {
		name string
		wake func(c *fdConn)
		want error
	}{
		{"by Close", func(c *fdConn) { _ = c.Close() }, net.ErrClosed},
		{"by SetWriteDeadline(now)", func(c *fdConn) { _ = c.SetWriteDeadline(time.Now()) }, os.ErrDeadlineExceeded},
		// The deadline was set before the write; its timer wakes it.
		{"by its deadline", nil, os.ErrDeadlineExceeded},
	}
	ln := listenLoopback(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := takenPair(t, ln)
			if tc.wake == nil {
				_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			}
			done := blockedWrite(t, c)
			if tc.wake != nil {
				tc.wake(c)
			}
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("the waiting write returned %v, want %v", err, tc.want)
				}
			case <-time.After(waitLimit):
				t.Fatal("the waiting write was not woken")
			}
		})
	}
}

// A polled WebSocket's writer waits for a client that stopped reading
// and goes on when it reads again: the poller reports the socket writable
// (EPOLLOUT) to the writer, with no deadline passing meanwhile.
func TestPolledWebSocketWriterGoesOnWhenItsClientReadsAgain(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{ReadPath: ReadPathPoller, PingInterval: time.Minute, PingTimeout: time.Minute}, rec)
	ws, conn, link := dialPolledWebSocket(t, ts, rec)
	defer ws.Close()
	pc := link.pc.Load()
	if pc.rc != nil {
		t.Fatal("the poller did not take the socket of a plain WebSocket")
	}
	const messages = 64
	pad := bytes.Repeat([]byte("y"), 64<<10)
	for i := range messages {
		if err := conn.Send(Message{Data: append([]byte(strconv.Itoa(i)+":"), pad...)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// 4 MiB are more than the socket buffers hold: a writer waits.
	eventually(t, "a writer to wait for the client", func() bool {
		w := pc.sock.waits.Load()
		if w == nil {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.ch != nil
	})
	for i := range messages {
		_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := "4" + strconv.Itoa(i) + ":"; !bytes.HasPrefix(data, []byte(want)) {
			t.Fatalf("message %d begins %q, want %q", i, data[:min(len(data), 8)], want)
		}
	}
}

// opaqueConn is a listener's wrapper the poller does not know: it offers
// the connection under it, but its Close might do more than close it.
type opaqueConn struct{ net.Conn }

func (c *opaqueConn) NetConn() net.Conn { return c.Conn }

type opaqueListener struct{ net.Listener }

func (l opaqueListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &opaqueConn{c}, nil
}

// A WebSocket under a wrapper the poller does not know keeps its socket
// in Go's net package: the poller reads it through the runtime, and its
// writes and its close go through the wrapper, as before.
func TestPolledWebSocketUnderAnUnknownWrapperStaysTheRuntimes(t *testing.T) {
	ln := listenLoopback(t)
	rec := newRecorder(true)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := NewServer(Options{ReadPath: ReadPathPoller}, rec)
	srv.OwnHijackedConns(app.Server())
	srv.Mount(app, "/socket.io/")
	served := make(chan error, 1)
	go func() { served <- app.Listener(opaqueListener{srv.WrapListener(ln)}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = app.ShutdownWithContext(ctx)
		<-served
	})
	ts := &testServer{srv: srv, addr: ln.Addr().String()}
	ws, _, link := dialPolledWebSocket(t, ts, rec)
	if pc := link.pc.Load(); pc.rc == nil {
		t.Fatal("the poller took a socket from under a wrapper it does not know")
	}
	if _, ok := link.raw.(*opaqueConn); !ok {
		t.Fatalf("the link writes through %T, want the wrapper", link.raw)
	}
	writeText(t, ws, "4over the runtime")
	rec.expectMessage(t, "over the runtime", false)
	expectText(t, ws, "4over the runtime")
	_ = ws.Close()
	rec.expectClose(t, "transport close")
	eventually(t, "the session to be forgotten", func() bool { return srv.SessionCount() == 0 })
}
