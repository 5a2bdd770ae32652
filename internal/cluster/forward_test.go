package cluster

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// echo is an Engine.IO handler that sends every message back.
type echo struct{}

func (echo) Open(conn engineio.Conn) engineio.Listener { return echoListener{conn} }

type echoListener struct{ conn engineio.Conn }

func (l echoListener) OnMessage(m engineio.Message) {
	_ = l.conn.Send(engineio.Message{Data: bytes.Clone(m.Data), Binary: m.Binary})
}
func (echoListener) OnClose(string) {}

// node is an Engine.IO server with any_node on: its public app and its
// internal listener, announced in Redis.
type node struct {
	engine *engineio.Server
	fwd    *Forwarder
	public string
}

func startNode(t *testing.T, redisURL string) *node {
	t.Helper()
	nodes, err := adapter.NewRedis(adapter.RedisOptions{URL: redisURL, Prefix: "forward-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodes.Close() })
	internalLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := NewDirectory(nodes, NewTag(), internalLn.Addr().String(), time.Second, nil)
	fwd := NewForwarder(dir, NewSigner(testSecret, nil), ForwarderOptions{Hold: 10 * time.Second})
	engine := engineio.NewServer(engineio.Options{NodeTag: dir.Tag(), Foreign: fwd.Forward,
		PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second}, echo{})
	public := fiber.New(fiber.Config{DisableStartupMessage: true})
	engine.OwnHijackedConns(public.Server())
	engine.Mount(public, "/engine.io/")
	internal := NewInternalApp(engine, NewVerifier(testSecret, 0, nil), InternalOptions{Path: "/engine.io/", MaxBody: 1 << 20, Hold: 10 * time.Second})
	publicLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = public.Listener(publicLn) }()
	go func() { _ = internal.Listener(internalLn) }()
	dir.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = dir.Close(ctx)
		_ = fwd.Close(ctx)
		_ = engine.Shutdown(ctx)
		_ = public.ShutdownWithContext(ctx)
		_ = internal.ShutdownWithContext(ctx)
	})
	return &node{engine: engine, fwd: fwd, public: publicLn.Addr().String()}
}

// TestForwarderTunnelsAWebSocketUpgradeToTheOwner opens a polling session
// on one node and upgrades it through another, which has no
// AdoptWebSocket: the WebSocket is tunnelled to the owner, which runs the
// upgrade (probe, noop to the pending GET, upgrade packet) and serves the
// session over it, until the client closes and the tunnel with it.
func TestForwarderTunnelsAWebSocketUpgradeToTheOwner(t *testing.T) {
	redisURL := startRedisServer(t)
	owner := startNode(t, redisURL)
	other := startNode(t, redisURL)

	res, err := http.Get("http://" + owner.public + "/engine.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	open, _ := io.ReadAll(res.Body)
	res.Body.Close()
	sid := string(open)[len(`0{"sid":"`):]
	sid = sid[:strings.IndexByte(sid, '"')]

	ws, _, err := fws.DefaultDialer.Dial("ws://"+other.public+"/engine.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatalf("upgrade through the other node: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	exchange := func(send, want string) {
		t.Helper()
		if err := ws.WriteMessage(fws.TextMessage, []byte(send)); err != nil {
			t.Fatal(err)
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("after %q: %v", send, err)
			}
			if string(msg) == want {
				return
			}
		}
	}
	exchange("2probe", "3probe")
	if err := ws.WriteMessage(fws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	exchange("4hello over the tunnel", "4hello over the tunnel")
	if n := other.fwd.Tunnels(); n != 1 {
		t.Fatalf("the other node has %d tunnels, want 1", n)
	}
	if owner.engine.SessionCount() != 1 || other.engine.SessionCount() != 0 {
		t.Fatalf("sessions: owner %d, other %d; want the owner's only", owner.engine.SessionCount(), other.engine.SessionCount())
	}
	_ = ws.Close()
	for deadline := time.Now().Add(5 * time.Second); other.fwd.Tunnels() != 0 || owner.engine.SessionCount() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the client closed: %d tunnels, %d sessions at the owner", other.fwd.Tunnels(), owner.engine.SessionCount())
		}
	}
}

// startRedisServer starts a redis-server on a free port for one test.
func startRedisServer(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return "redis://" + addr + "/0"
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not listen")
		}
	}
}

// TestDirectoryKeepsATagReadFromABufferThatIsReused looks up a node's tag
// through a string backed by a buffer, as Fiber hands out a request's
// query, and then overwrites the buffer, as the next request on the
// connection does: the cached entry must still be found under the tag, and
// not be answered for whatever the buffer holds now.
func TestDirectoryKeepsATagReadFromABufferThatIsReused(t *testing.T) {
	redisURL := startRedisServer(t)
	owner := startNode(t, redisURL)
	asker := startNode(t, redisURL)
	ownerTag := owner.fwd.dir.Tag()

	buf := []byte(ownerTag)
	fromBuffer := unsafe.String(&buf[0], len(buf))
	addr, err := asker.fwd.dir.Lookup(context.Background(), fromBuffer)
	if err != nil || addr == "" {
		t.Fatalf("lookup of the owner's tag: %q, %v", addr, err)
	}
	other := NewTag()
	copy(buf, other)

	asker.fwd.dir.mu.Lock()
	_, keptUnderTag := asker.fwd.dir.cache[ownerTag]
	_, answersOther := asker.fwd.dir.cache[other]
	asker.fwd.dir.mu.Unlock()
	if !keptUnderTag || answersOther {
		t.Fatalf("after the buffer was reused: cached under the owner's tag %v, under the buffer's new content %v; want true, false",
			keptUnderTag, answersOther)
	}
}
