package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// moveTestConfig serves / on a cluster of gateways whose sessions any node
// serves; REDIS, PREFIX and LISTEN are replaced per gateway.
const moveTestConfig = `
server:
  ping_interval: 1s
  ping_timeout: 3s
  ack_timeout: 10s
adapter:
  kind: redis
  redis: {url: "REDIS", prefix: PREFIX}
cluster:
  any_node: true
  listen: LISTEN
  secret: test-cluster-secret-0123456789abcdef
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
namespaces:
  /:
    auth: required
    events:
      say:
        handler:
          broadcast: {event: said}
      join:
        handler:
          join: {room: data.room}
      sayTo:
        handler:
          broadcast: {event: said, to: data.room}
      me:
        handler:
          reply: {value: '{"sub": user.sub, "rooms": socket.rooms}'}
      confirm:
        handler:
          emit: {event: confirm, await_ack: true}
`

// startMoveGateway starts one gateway of the cluster on redisURL.
func startMoveGateway(t *testing.T, redisURL, prefix string) *liveGateway {
	t.Helper()
	return startMoveGatewayWith(t, redisURL, prefix, "")
}

// startMoveGatewayWith starts one gateway of the cluster on redisURL whose
// namespace / has the lines nsExtra besides its events.
func startMoveGatewayWith(t *testing.T, redisURL, prefix, nsExtra string) *liveGateway {
	t.Helper()
	text := strings.NewReplacer("REDIS", redisURL, "PREFIX", prefix, "LISTEN", freeMoveAddr(t)).Replace(moveTestConfig)
	text = strings.Replace(text, "    auth: required\n", "    auth: required\n"+nsExtra, 1)
	g := startLiveGateway(t, text, Registries{})
	awaitReady(t, g)
	return g
}

// freeMoveAddr returns a loopback address whose port was free a moment ago.
func freeMoveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func moveToken(t *testing.T, sub string) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(metricsTestSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// movingClient is an Engine.IO client that starts on long-polling at one
// gateway and upgrades at another, as the official client does behind a
// round-robin load balancer: it keeps one GET pending, answers pings, and
// on the probe's pong waits for its GET before it sends the upgrade packet.
type movingClient struct {
	t       *testing.T
	http    *http.Client
	polling string // the gateway the session was made on
	sid     string

	packets chan string // every packet received, in order, from either transport
	stop    chan struct{}
	polled  chan struct{} // closed when the poll loop returned

	// skipped are the packets next passed over, in order.
	skipped []string
	// pollErr is why the poll loop stopped, if it failed; read after polled.
	pollErr error

	postMu sync.Mutex
	mu     sync.Mutex
	ws     *fws.Conn
}

func newMovingClient(t *testing.T, g *liveGateway) *movingClient {
	t.Helper()
	c := &movingClient{t: t, http: &http.Client{Timeout: 10 * time.Second}, polling: g.addr,
		packets: make(chan string, 4096), stop: make(chan struct{}), polled: make(chan struct{})}
	body := c.get()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake answered %q, %v", body, c.pollErr)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	c.sid = open.SID
	go c.pollLoop()
	return c
}

func (c *movingClient) url(addr string) string {
	u := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	if c.sid != "" {
		u += "&sid=" + url.QueryEscape(c.sid)
	}
	return u
}

// get sends a GET and returns its body, "" when it failed (the session
// ended); the failure is kept in pollErr.
func (c *movingClient) get() string {
	res, err := c.http.Get(c.url(c.polling))
	if err != nil {
		c.pollErr = err
		return ""
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		c.pollErr = fmt.Errorf("GET answered %d %s", res.StatusCode, body)
		return ""
	}
	return string(body)
}

// send writes packets: on the WebSocket once upgraded, else by POST.
func (c *movingClient) send(packets ...string) {
	if err := c.write(packets...); err != nil {
		c.t.Error(err)
	}
}

// write is send returning its error.
func (c *movingClient) write(packets ...string) error {
	// postMu is held from the choice of transport to the POST's answer, as
	// the upgrade holds it to send its packet: like the official client, no
	// POST is under way when the upgrade packet goes, and none follows it
	// (one that did reached the old node after the session had left, and a
	// pong lost so ended the session on its new node with a ping timeout).
	c.postMu.Lock()
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		c.postMu.Unlock()
		for _, p := range packets {
			c.mu.Lock()
			err := ws.WriteMessage(fws.TextMessage, []byte(p))
			c.mu.Unlock()
			if err != nil {
				return fmt.Errorf("write %q: %w", p, err)
			}
		}
		return nil
	}
	// One POST at a time, as a client must: the server closes a session
	// that overlaps two.
	defer c.postMu.Unlock()
	res, err := c.http.Post(c.url(c.polling), "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST answered %d %s", res.StatusCode, body)
	}
	return nil
}

// pollLoop keeps a GET pending until stop, answering pings.
func (c *movingClient) pollLoop() {
	defer close(c.polled)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		body := c.get()
		if body == "" {
			return
		}
		for _, p := range strings.Split(body, "\x1e") {
			c.receive(p)
		}
	}
}

func (c *movingClient) receive(p string) {
	switch {
	case p == "2":
		// A pong that crosses the move or the close may fail; the
		// heartbeat is checked by the session staying open.
		go func() { _ = c.write("3") }()
	case p == "6" || p == "":
	default:
		c.packets <- p
	}
}

// upgradeAt opens the WebSocket at g, probes, waits for the pending GET to
// come back, and upgrades; afterwards every packet comes over the
// WebSocket. It returns the error of a failed upgrade, with the WebSocket
// closed.
func (c *movingClient) upgradeAt(g *liveGateway) error {
	u := "ws://" + g.addr + "/socket.io/?EIO=4&transport=websocket&sid=" + url.QueryEscape(c.sid)
	ws, _, err := fws.DefaultDialer.Dial(u, nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if err := ws.WriteMessage(fws.TextMessage, []byte("2probe")); err != nil {
		return err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, pong, err := ws.ReadMessage()
	if err != nil || string(pong) != "3probe" {
		ws.Close()
		select {
		case <-c.polled:
			return fmt.Errorf("probe answered %q, %v; polling had failed: %v", pong, err, c.pollErr)
		default:
		}
		return fmt.Errorf("probe answered %q, %v", pong, err)
	}
	// Pause polling: the pending GET comes back (with a noop at least).
	close(c.stop)
	select {
	case <-c.polled:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the pending GET was not answered after the probe")
	}
	if c.pollErr != nil {
		return fmt.Errorf("polling failed before the upgrade: %w", c.pollErr)
	}
	c.postMu.Lock()
	c.mu.Lock()
	err = ws.WriteMessage(fws.TextMessage, []byte("5"))
	c.ws = ws
	c.mu.Unlock()
	c.postMu.Unlock()
	if err != nil {
		return err
	}
	go c.readLoop(ws)
	return nil
}

// readLoop reads the WebSocket until it closes; the close is a packet "closed".
func (c *movingClient) readLoop(ws *fws.Conn) {
	defer func() { c.packets <- "closed" }()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		c.receive(string(data))
	}
}

func (c *movingClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		_ = c.ws.Close()
	}
}

// next returns the next packet that starts with prefix; the others are
// kept in skipped.
func (c *movingClient) next(prefix string) string {
	c.t.Helper()
	deadline := time.After(limitsWait)
	for {
		select {
		case p := <-c.packets:
			if strings.HasPrefix(p, prefix) {
				return p
			}
			c.skipped = append(c.skipped, p)
		case <-deadline:
			c.t.Fatalf("no packet %q in time", prefix)
		}
	}
}

// connect connects the namespace / with token and returns the socket id.
func (c *movingClient) connect(token string) string {
	c.t.Helper()
	c.send(`40{"token":"` + token + `"}`)
	p := c.next("40")
	var ack struct{ SID string }
	if err := json.Unmarshal([]byte(p[2:]), &ack); err != nil {
		c.t.Fatalf("CONNECT answered %q", p)
	}
	return ack.SID
}

// broadcaster emits say {from, n} with n = 1, 2, ... from a WebSocket client
// of g until stop, and reports how many it sent.
func broadcaster(t *testing.T, g *liveGateway, token, from string, stop <-chan struct{}) <-chan int {
	sent := make(chan int, 1)
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	cl, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Connect(ctx, "/", map[string]string{"token": token}); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer cl.Close()
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			n++
			ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
			_, err := cl.EmitWithAck(ctx, "/", "say", map[string]any{"from": from, "n": n})
			cancel()
			if err != nil {
				t.Errorf("say %d: %v", n, err)
				sent <- n - 1
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return sent
}

// TestSessionMovesToTheNodeOfItsWebSocket makes a polling session on a,
// joins a room, leaves an emit waiting for its ack, then upgrades at b
// while broadcasters on a and b send without pause: the session goes on at
// b with its socket id, claims and rooms, every broadcast arrives once and
// in order, the ack resolves on a and a's reply reaches the client, and a
// keeps nothing of the session.
func TestSessionMovesToTheNodeOfItsWebSocket(t *testing.T) {
	for _, tc := range []struct{ name, nsExtra string }{
		{"plain", ""},
		// Broadcasts go through the recovery stream, delivered on every
		// node in its order; the socket keeps its recovery state.
		{"recovery on", "    recovery: {max_disconnection: 1m}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { testSessionMoves(t, tc.nsExtra) })
	}
}

func testSessionMoves(t *testing.T, nsExtra string) {
	redisURL, _ := startStallableRedis(t)
	a := startMoveGatewayWith(t, redisURL, "move1", nsExtra)
	b := startMoveGatewayWith(t, redisURL, "move1", nsExtra)

	c := newMovingClient(t, a)
	defer c.close()
	socketID := c.connect(moveToken(t, "alice"))
	c.send(`421["join",{"room":"r1"}]`)
	c.next("431")
	// a's emit handler asks the client for an ack; the client answers it
	// only after the move, on b.
	c.send(`422["confirm",{"q":1}]`)
	confirm := c.next(`42`)
	if !strings.Contains(confirm, `"confirm"`) {
		t.Fatalf("expected the confirm emit, got %q", confirm)
	}
	ackID := confirm[2:strings.Index(confirm, "[")]

	stop := make(chan struct{})
	sentA := broadcaster(t, a, moveToken(t, "bob"), "a", stop)
	sentB := broadcaster(t, b, moveToken(t, "carol"), "b", stop)
	time.Sleep(150 * time.Millisecond)
	if err := c.upgradeAt(b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	counts := map[string]int{"a": <-sentA, "b": <-sentB}

	c.send(`43` + ackID + `[{"fine":true}]`)
	reply := c.next("432")
	if !strings.Contains(reply, `"fine":true`) {
		t.Errorf("the emit's reply after the move = %q, want the client's ack", reply)
	}
	c.send(`423["me"]`)
	me := c.next("433")
	if !strings.Contains(me, `"sub":"alice"`) || !strings.Contains(me, `"r1"`) {
		t.Errorf("claims and rooms after the move = %q", me)
	}
	if got := b.gw.sockets.Socket("/", socketID); got == nil || got.Transport() != "websocket" {
		t.Errorf("socket %s is not on b over a WebSocket", socketID)
	}

	// Every broadcast once, in order, from both senders; the room too.
	seen := map[string]int{}
	deadline := time.After(limitsWait)
	for seen["a"] < counts["a"] || seen["b"] < counts["b"] {
		var p string
		if len(c.skipped) > 0 {
			p, c.skipped = c.skipped[0], c.skipped[1:]
		} else {
			select {
			case p = <-c.packets:
			case <-deadline:
				t.Fatalf("broadcasts received %v of %v", seen, counts)
			}
		}
		if !strings.HasPrefix(p, `42["said"`) {
			continue
		}
		var ev []json.RawMessage
		var said struct {
			From string
			N    int
		}
		// With recovery, the stream's offset follows as a last argument.
		if err := json.Unmarshal([]byte(p[2:]), &ev); err != nil || len(ev) < 2 || json.Unmarshal(ev[1], &said) != nil {
			t.Fatalf("said packet %q", p)
		}
		if recovering := nsExtra != ""; recovering != (len(ev) == 3) {
			t.Fatalf("said packet %q: recovery %v, want the offset argument then only", p, recovering)
		}
		if want := seen[said.From] + 1; said.N != want {
			t.Fatalf("from %s: got broadcast %d, want %d (duplicate or lost across the move)", said.From, said.N, want)
		}
		seen[said.From] = said.N
	}
	t.Logf("broadcasts received once and in order across the move: %v", seen)

	waitMoved(t, "a to forget the session", func() bool {
		_, released := a.gw.cluster.moves.pending()
		// The broadcasters have closed their sessions too.
		return a.gw.engine.SessionCount() == 0 && len(a.gw.sockets.Sockets("/")) == 0 && released == 0
	})
	if s := a.gw.sockets.Socket("/", socketID); s != nil {
		t.Errorf("a still indexes socket %s", socketID)
	}
	// The node the session moved to counts the move; the old node none.
	moved := series("gatehouse_session_moves_total", "result", "moved")
	if got, old := scrape(t, b.addr)[moved], scrape(t, a.addr)[moved]; got != 1 || old != 0 {
		t.Errorf("%s = %v on b and %v on a, want 1 and 0", moved, got, old)
	}
}

// waitMoved polls cond until it holds or the test's wait runs out.
func waitMoved(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMoveToANodeWhoseHolderIsGoneClosesTheClient probes at b, then stops
// a, which held the session, before the client upgrades: b cannot take the
// session and closes the WebSocket, so the client opens a new session, and
// b keeps nothing of the move.
func TestMoveToANodeWhoseHolderIsGoneClosesTheClient(t *testing.T) {
	redisURL, _ := startStallableRedis(t)
	a := startMoveGateway(t, redisURL, "move2")
	b := startMoveGateway(t, redisURL, "move2")

	c := newMovingClient(t, a)
	defer c.close()
	c.connect(moveToken(t, "alice"))
	u := "ws://" + b.addr + "/socket.io/?EIO=4&transport=websocket&sid=" + url.QueryEscape(c.sid)
	ws, _, err := fws.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(fws.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(limitsWait))
	if _, pong, err := ws.ReadMessage(); err != nil || string(pong) != "3probe" {
		t.Fatalf("probe answered %q, %v", pong, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if err := a.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(fws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.ReadMessage()
	var closed *fws.CloseError
	if !errors.As(err, &closed) {
		t.Fatalf("after the upgrade packet: %q, %v; want the WebSocket closed", data, err)
	}
	incoming, _ := b.gw.cluster.moves.pending()
	if n := b.gw.engine.SessionCount(); n != 0 || incoming != 0 {
		t.Errorf("b holds %d sessions and %d moves after the failed move", n, incoming)
	}
	samples := scrape(t, b.addr)
	failed, moved := series("gatehouse_session_moves_total", "result", "failed"), series("gatehouse_session_moves_total", "result", "moved")
	if samples[failed] != 1 || samples[moved] != 0 {
		t.Errorf("b counts %v failed and %v moved moves, want 1 and 0", samples[failed], samples[moved])
	}
}

// TestMovedSessionsLeaveNothingOnTheirOldNode moves 60 polling sessions
// from a to b: a keeps no session, socket, room or released state once they
// are on b, and after the clients close, the process's goroutines and live
// heap are back near where they were before the sessions were made.
func TestMovedSessionsLeaveNothingOnTheirOldNode(t *testing.T) {
	redisURL, _ := startStallableRedis(t)
	a := startMoveGateway(t, redisURL, "move3")
	b := startMoveGateway(t, redisURL, "move3")
	// A round first, so that pools (Redis connections, buffers) have grown
	// to what this work needs before the baseline.
	moveRound(t, a, b, 10, nil)
	goroutines, heap := settledGoroutinesAndHeap()

	const n = 60
	moveRound(t, a, b, n, func() {
		waitMoved(t, "every session on b and none on a", func() bool {
			_, released := a.gw.cluster.moves.pending()
			ok := b.gw.engine.SessionCount() == n && a.gw.engine.SessionCount() == 0 &&
				len(a.gw.sockets.Sockets("/")) == 0 && len(a.gw.sockets.RoomSizes("/")) == 0 && released == 0
			return ok
		})
		if got, rooms := len(b.gw.sockets.Sockets("/")), b.gw.sockets.RoomSizes("/"); got != n || rooms["r0"] != n/5 {
			t.Errorf("b holds %d sockets, room r0 %d; want %d and %d", got, rooms["r0"], n, n/5)
		}
	})
	afterG, afterHeap := settledGoroutinesAndHeap()
	t.Logf("goroutines %d -> %d, live heap %d -> %d KiB", goroutines, afterG, heap>>10, afterHeap>>10)
	if afterG > goroutines+5 {
		t.Errorf("goroutines %d -> %d after %d sessions moved and closed", goroutines, afterG, n)
	}
	// Budget: 1 MiB for the pools that may still grow with the work (the
	// Redis clients' connections, 64 KiB of buffers each, measured as most
	// of the difference in heap profiles) and 4 KiB a session; sessions,
	// sockets or moves left behind, 60 of each, are well over it.
	// Under the race detector the pools grow further with the slowness, so
	// only the counts are checked there.
	if !raceEnabled && afterHeap > heap+1<<20+n*4096 {
		t.Errorf("live heap %d -> %d KiB after %d sessions moved and closed", heap>>10, afterHeap>>10, n)
	}
}

// moveRound makes n polling sessions on a that join rooms, moves them all
// to b, runs check while they are there, closes them and waits until b has
// forgotten them and their moves.
func moveRound(t *testing.T, a, b *liveGateway, n int, check func()) {
	t.Helper()
	token := moveToken(t, "alice")
	clients := make([]*movingClient, n)
	for i := range clients {
		clients[i] = newMovingClient(t, a)
		clients[i].connect(token)
		clients[i].send(`421["join",{"room":"r` + fmt.Sprint(i%5) + `"}]`)
		clients[i].next("431")
	}
	for _, c := range clients {
		if err := c.upgradeAt(b); err != nil {
			t.Fatal(err)
		}
	}
	if check != nil {
		check()
	}
	for _, c := range clients {
		c.close()
	}
	waitMoved(t, "the moved sessions to end on b", func() bool {
		incoming, _ := b.gw.cluster.moves.pending()
		return b.gw.engine.SessionCount() == 0 && incoming == 0
	})
}

// settledGoroutinesAndHeap returns the goroutines, less the HTTP server's
// idle workers (kept ten seconds after the requests they served), and the
// live heap after a collection.
func settledGoroutinesAndHeap() (int, uint64) {
	var ms runtime.MemStats
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	buf := make([]byte, 4<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	idle := strings.Count(stacks, "fasthttp.(*workerPool).getCh.func1")
	return runtime.NumGoroutine() - idle, ms.HeapAlloc
}

// TestMovedSocketKeepsItsPlaceUnderTheUserCapOnce moves alice's only
// allowed socket (server.limits.max_connections_per_user: 1) from a to b:
// another socket of hers is refused on either node as soon as the socket
// is on b (a counts it until its ghost ends, b from its adoption, so no
// CONNECT finds the place free in between), and still once a has let the
// socket go, since the place moved rather than being given back; once the
// moved socket closes, she connects again.
func TestMovedSocketKeepsItsPlaceUnderTheUserCapOnce(t *testing.T) {
	redisURL, _ := startStallableRedis(t)
	capped := func(prefix string) *liveGateway {
		text := strings.NewReplacer("REDIS", redisURL, "PREFIX", prefix, "LISTEN", freeMoveAddr(t)).Replace(moveTestConfig)
		text = strings.Replace(text, "  ack_timeout: 10s\n", "  ack_timeout: 10s\n  limits: {max_connections_per_user: 1}\n", 1)
		g := startLiveGateway(t, text, Registries{})
		awaitReady(t, g)
		return g
	}
	a, b := capped("move4"), capped("move4")
	token := moveToken(t, "alice")
	c := newMovingClient(t, a)
	c.connect(token)
	if err := c.upgradeAt(b); err != nil {
		t.Fatal(err)
	}
	waitMoved(t, "the socket on b", func() bool { return len(b.gw.sockets.Sockets("/")) == 1 })

	second := func(g *liveGateway) error {
		ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
		defer cancel()
		cl, err := sioclient.Dial(ctx, g.url)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		_, err = cl.Connect(ctx, "/", map[string]string{"token": token})
		return err
	}
	refusedOnBoth := func(when string) {
		t.Helper()
		for name, g := range map[string]*liveGateway{"a": a, "b": b} {
			var refused *sioclient.ConnectError
			if err := second(g); !errors.As(err, &refused) || refused.Code() != "limit_exceeded" {
				t.Errorf("a second socket of alice's on %s %s: %v, want limit_exceeded", name, when, err)
			}
		}
	}
	// While a keeps the socket's ghost, both nodes count it; after, b alone.
	refusedOnBoth("after the move")
	waitMoved(t, "a to let the moved session's ghost go", func() bool {
		_, released := a.gw.cluster.moves.pending()
		return released == 0
	})
	refusedOnBoth("once a let the moved socket go")
	c.close()
	waitMoved(t, "the moved session to end", func() bool { return b.gw.engine.SessionCount() == 0 })
	waitMoved(t, "alice's place to be given back", func() bool { return second(a) == nil })
}
