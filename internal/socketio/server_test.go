package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConnectAcceptsWithSocketID(t *testing.T) {
	h := newTestHooks("/", "/chat")
	var gotAuth json.RawMessage
	h.connect = func(_ context.Context, s *Socket, auth json.RawMessage) error {
		gotAuth = auth
		s.SetClaims(gatehouse.Claims{"sub": "u1"})
		return nil
	}
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	tc.send(`0/chat,{"token":"abc"}`)
	p := tc.next()
	if p.Type != PacketConnect || p.Namespace != "/chat" {
		t.Fatalf("got %s on %s, want CONNECT on /chat", p.Type, p.Namespace)
	}
	var ack struct{ SID string }
	if err := json.Unmarshal(p.Data, &ack); err != nil {
		t.Fatal(err)
	}
	s := h.awaitConnected(t, ack.SID)
	if string(gotAuth) != `{"token":"abc"}` {
		t.Fatalf("Connect saw auth %s", gotAuth)
	}
	if len(ack.SID) != 20 || strings.ContainsAny(ack.SID, "+/=") {
		t.Fatalf("socket id %q is not 20 base64url characters", ack.SID)
	}
	if s.Namespace() != "/chat" || s.Claims().Subject() != "u1" || s.RemoteIP() != "203.0.113.7" ||
		s.Header("user-agent") != "test-agent" || s.Transport() != "websocket" || s.Handshake() == nil {
		t.Fatalf("socket does not describe its session: ns=%q sub=%q ip=%q", s.Namespace(), s.Claims().Subject(), s.RemoteIP())
	}
	if srv.Socket("/chat", s.ID()) != s || len(srv.Sockets("/chat")) != 1 {
		t.Fatal("accepted socket not indexed")
	}
	if got := srv.SocketsOfUser("", "u1"); len(got) != 1 || got[0] != s {
		t.Fatalf("SocketsOfUser = %v", got)
	}
}

func TestConnectWithoutAuthPassesNil(t *testing.T) {
	h := newTestHooks("/")
	authSeen := make(chan json.RawMessage, 1)
	h.connect = func(_ context.Context, _ *Socket, auth json.RawMessage) error {
		authSeen <- auth
		return nil
	}
	tc := connect(t, newTestServer(h, Options{}))
	tc.join(h, "/")
	if auth := <-authSeen; auth != nil {
		t.Fatalf("auth = %s, want nil", auth)
	}
}

func TestConnectRefusedCarriesCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"coded error", gatehouse.Errorf(gatehouse.CodeUnauthorized, "token missing"),
			`4/chat,{"data":{"code":"unauthorized"},"message":"token missing"}`},
		{"coded error with data", gatehouse.Errorf(gatehouse.CodeRateLimited, "slow down").With("retry_after_ms", 500),
			`4/chat,{"data":{"code":"rate_limited","retry_after_ms":500},"message":"slow down"}`},
		{"plain error hidden", errors.New("database password wrong"),
			`4/chat,{"data":{"code":"internal"},"message":"internal error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHooks("/chat")
			h.connect = func(context.Context, *Socket, json.RawMessage) error { return tt.err }
			srv := newTestServer(h, Options{})
			tc := connect(t, srv)
			tc.send("0/chat,")
			if got := tc.nextText(); got != tt.want {
				t.Fatalf("got %s\nwant %s", got, tt.want)
			}
			if len(srv.Sockets("/chat")) != 0 {
				t.Fatal("refused socket indexed")
			}
			// A refused namespace may be tried again on the same session.
			h.connect = nil
			tc.join(h, "/chat")
		})
	}
}

func TestConnectToUnknownNamespaceIsInvalid(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{}))
	tc.send("0/nope,")
	if got := tc.nextText(); got != `4/nope,{"message":"Invalid namespace"}` {
		t.Fatalf("got %s", got)
	}
	if closed, _ := tc.conn.closedWith(); closed {
		t.Fatal("session closed after an invalid namespace")
	}
}

func TestNamespacesMultiplexedIndependently(t *testing.T) {
	h := newTestHooks("/", "/slow")
	release := make(chan struct{})
	h.connect = func(ctx context.Context, s *Socket, _ json.RawMessage) error {
		if s.Namespace() == "/slow" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	tc.send("0/slow,")
	main := tc.join(h, "/")

	// /slow is still being decided: its events are ignored, / flows.
	tc.send(`2/slow,["early"]`)
	tc.send(`2["hello"]`)
	if e := h.awaitEvent(t); e.name != "hello" || e.socket != main {
		t.Fatalf("got %q on %s", e.name, e.socket.Namespace())
	}
	close(release)
	slow := h.awaitConnected(t, sidOf(t, tc.next()))
	tc.send(`2/slow,["late"]`)
	if e := h.awaitEvent(t); e.name != "late" || e.socket != slow {
		t.Fatalf("got %q on %s", e.name, e.socket.Namespace())
	}
	h.noEvent(t)
	if main.ID() == slow.ID() {
		t.Fatal("two namespaces share a socket id")
	}
}

func TestEventWithoutAck(t *testing.T) {
	h := newTestHooks("/chat")
	tc := connect(t, newTestServer(h, Options{}))
	s := tc.join(h, "/chat")
	tc.send(`2/chat,["sendMessage",{"message":"hi"},2]`)
	e := h.awaitEvent(t)
	if e.socket != s || e.name != "sendMessage" || e.ack != nil {
		t.Fatalf("event %q ack=%v", e.name, e.ack != nil)
	}
	if len(e.args.Raw) != 2 || string(e.args.First()) != `{"message":"hi"}` || string(e.args.Raw[1]) != "2" {
		t.Fatalf("args = %s", e.args.Raw)
	}
}

func TestEventWithAckAnswersOnce(t *testing.T) {
	h := newTestHooks("/chat")
	tc := connect(t, newTestServer(h, Options{}))
	tc.join(h, "/chat")
	tc.send(`2/chat,12["whoami"]`)
	e := h.awaitEvent(t)
	if e.ack == nil {
		t.Fatal("ack missing although the client sent an id")
	}
	e.ack(map[string]any{"ok": true}, "x")
	e.ack("second call")
	if got := tc.nextText(); got != `3/chat,12[{"ok":true},"x"]` {
		t.Fatalf("ack = %s", got)
	}
	tc.silent()
}

func TestBinaryEventRoundTripsThroughAck(t *testing.T) {
	h := newTestHooks("/files")
	tc := connect(t, newTestServer(h, Options{}))
	tc.join(h, "/files")
	first, second, third := []byte{0, 1, 2, 255}, []byte("second"), []byte{}
	tc.send(`53-/files,4["upload",{"meta":{"a":{"_placeholder":true,"num":2}}},"plain",[1,{"_placeholder":true,"num":0},{"b":[{"_placeholder":true,"num":1}]}]]`,
		first, second, third)
	e := h.awaitEvent(t)
	if e.name != "upload" || len(e.args.Raw) != 3 || len(e.args.Attachments) != 3 {
		t.Fatalf("event %q with %d args and %d attachments", e.name, len(e.args.Raw), len(e.args.Attachments))
	}
	// The ack puts one attachment of its own before the received ones.
	e.ack([]byte("own"), e.args)
	p := tc.next()
	if p.Type != PacketBinaryAck || p.ID != 4 || p.Namespace != "/files" {
		t.Fatalf("got %s id=%d on %s", p.Type, p.ID, p.Namespace)
	}
	want := `[{"_placeholder":true,"num":0},{"meta":{"a":{"_placeholder":true,"num":3}}},"plain",[1,{"_placeholder":true,"num":1},{"b":[{"_placeholder":true,"num":2}]}]]`
	if string(p.Data) != want {
		t.Fatalf("ack data %s\nwant     %s", p.Data, want)
	}
	wantAttachments := [][]byte{[]byte("own"), first, second, third}
	if len(p.Attachments) != len(wantAttachments) {
		t.Fatalf("%d attachments, want %d", len(p.Attachments), len(wantAttachments))
	}
	for k := range wantAttachments {
		if string(p.Attachments[k]) != string(wantAttachments[k]) {
			t.Fatalf("attachment %d = %v, want %v", k, p.Attachments[k], wantAttachments[k])
		}
	}
}

func TestEmitWithAckReturnsClientAnswer(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{}))
	s := tc.join(h, "/")
	type result struct {
		args []json.RawMessage
		err  error
	}
	done := make(chan result, 1)
	go func() {
		args, err := s.EmitWithAck(context.Background(), "question", 42)
		done <- result{args, err}
	}()
	p := tc.next()
	if p.Type != PacketEvent || p.ID < 0 || string(p.Data) != `["question",42]` {
		t.Fatalf("got %s id=%d %s", p.Type, p.ID, p.Data)
	}
	tc.send("3" + itoa(p.ID+100) + `["stray"]`) // an id never asked for is ignored
	tc.send("3" + itoa(p.ID) + `["answer",{"n":1}]`)
	r := <-done
	if r.err != nil || len(r.args) != 2 || string(r.args[0]) != `"answer"` || string(r.args[1]) != `{"n":1}` {
		t.Fatalf("EmitWithAck = %s, %v", r.args, r.err)
	}
}

func TestEmitWithAckTimesOut(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{AckTimeout: 20 * time.Millisecond}))
	s := tc.join(h, "/")
	_, err := s.EmitWithAck(context.Background(), "question")
	if !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("err = %v, want ErrAckTimeout", err)
	}
	p := tc.next()
	// A late answer finds no waiter and changes nothing.
	tc.send("3" + itoa(p.ID) + `[]`)
	s.mu.Lock()
	pending := len(s.extras().acks.waiting)
	s.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d acknowledgements still pending", pending)
	}
}

func TestEmitWithAckFailsOnDisconnect(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{}))
	s := tc.join(h, "/")
	done := make(chan error, 1)
	go func() {
		_, err := s.EmitWithAck(context.Background(), "question")
		done <- err
	}()
	tc.next()
	tc.send("1")
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	if _, err := s.EmitWithAck(context.Background(), "again"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("EmitWithAck after disconnect: %v", err)
	}
}

func TestEmitSendsToOneSocket(t *testing.T) {
	h := newTestHooks("/", "/chat")
	srv := newTestServer(h, Options{})
	a, b := connect(t, srv), connect(t, srv)
	sa := a.join(h, "/chat")
	b.join(h, "/chat")
	a.join(h, "/")
	if err := sa.Emit("private", "hi", []byte{7}); err != nil {
		t.Fatal(err)
	}
	p := a.next()
	if p.Type != PacketBinaryEvent || p.Namespace != "/chat" || string(p.Attachments[0]) != "\x07" {
		t.Fatalf("got %s on %s", p.Type, p.Namespace)
	}
	a.silent()
	b.silent()
	if err := sa.Emit("disconnect"); err == nil {
		t.Fatal("reserved event emitted")
	}
}

func TestRoomsJoinLeaveAndBroadcastExceptSender(t *testing.T) {
	h := newTestHooks("/chat")
	srv := newTestServer(h, Options{})
	clients := []*testClient{connect(t, srv), connect(t, srv), connect(t, srv)}
	var sockets []*Socket
	for _, c := range clients {
		sockets = append(sockets, c.join(h, "/chat"))
	}
	for _, s := range sockets[:2] {
		if err := s.Join("room1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sockets[0].Join("room2"); err != nil {
		t.Fatal(err)
	}
	if got := sockets[0].Rooms(); !slices.Equal(got, []string{"room1", "room2"}) {
		t.Fatalf("Rooms = %v (own id must not be listed)", got)
	}
	if !sockets[1].InRoom("room1") || sockets[2].InRoom("room1") {
		t.Fatal("InRoom disagrees with Join")
	}
	if n := srv.RoomSize("/chat", "room1"); n != 2 {
		t.Fatalf("RoomSize = %d, want 2", n)
	}
	if n := srv.RoomSize("/chat", sockets[2].ID()); n != 1 {
		t.Fatalf("a socket id room holds %d, want 1", n)
	}

	// Every socket can be addressed by its id.
	if err := srv.Broadcast(context.Background(), "/chat", []string{sockets[2].ID()}, nil, "direct"); err != nil {
		t.Fatal(err)
	}
	if got := clients[2].nextText(); got != `2/chat,["direct"]` {
		t.Fatalf("addressed socket got %s", got)
	}
	clients[0].silent()
	clients[1].silent()

	err := sockets[0].Broadcast(context.Background(), gatehouse.Broadcast{Rooms: []string{"room1"}, ExceptSender: true, Event: "message", Args: []any{"hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := clients[1].nextText(); got != `2/chat,["message","hi"]` {
		t.Fatalf("room member got %s", got)
	}
	clients[0].silent()
	clients[2].silent()

	// Several rooms: a member of both gets the event once.
	if err := srv.Broadcast(context.Background(), "/chat", []string{"room1", "room2", sockets[2].ID()}, nil, "multi"); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if got := c.nextText(); got != `2/chat,["multi"]` {
			t.Fatalf("got %s", got)
		}
		c.silent()
	}

	if err := sockets[1].Leave("room1"); err != nil {
		t.Fatal(err)
	}
	if n := srv.RoomSize("/chat", "room1"); n != 1 {
		t.Fatalf("RoomSize after Leave = %d, want 1", n)
	}
	if err := sockets[0].Broadcast(context.Background(), gatehouse.Broadcast{Event: "all"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if got := c.nextText(); got != `2/chat,["all"]` {
			t.Fatalf("namespace broadcast got %s", got)
		}
	}

	clients[0].send("1/chat,")
	h.awaitDisconnected(t)
	if n := srv.RoomSize("/chat", "room2"); n != 0 {
		t.Fatalf("room kept a disconnected socket (%d)", n)
	}
	if err := sockets[0].Join("room3"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Join after disconnect: %v", err)
	}
}

func TestBroadcastReachesOneSessionOncePerNamespace(t *testing.T) {
	h := newTestHooks("/", "/chat")
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	s1 := tc.join(h, "/")
	s2 := tc.join(h, "/chat")
	_ = s1.Join("r")
	_ = s2.Join("r")
	if err := srv.Broadcast(context.Background(), "/chat", []string{"r"}, nil, "x"); err != nil {
		t.Fatal(err)
	}
	if got := tc.nextText(); got != `2/chat,["x"]` {
		t.Fatalf("got %s", got)
	}
	tc.silent()
}

func TestBroadcastEncodesOnce(t *testing.T) {
	h := newTestHooks("/")
	srv := newTestServer(h, Options{})
	var clients []*testClient
	for range 3 {
		c := connect(t, srv)
		c.join(h, "/")
		clients = append(clients, c)
	}
	if err := srv.Broadcast(context.Background(), "/", nil, nil, "news", map[string]int{"n": 1}, []byte("bin")); err != nil {
		t.Fatal(err)
	}
	var first [][]byte
	for k, c := range clients {
		batches := c.conn.sentBatches()
		last := batches[len(batches)-1]
		if len(last) != 2 {
			t.Fatalf("client %d got %d messages, want text and attachment", k, len(last))
		}
		if k == 0 {
			first = [][]byte{last[0].Data, last[1].Data}
			continue
		}
		if &last[0].Data[0] != &first[0][0] || &last[1].Data[0] != &first[1][0] {
			t.Fatalf("client %d got a separately encoded copy", k)
		}
	}
}

func TestBroadcastSurvivesFullQueue(t *testing.T) {
	h := newTestHooks("/")
	srv := newTestServer(h, Options{})
	slow, fast := connect(t, srv), connect(t, srv)
	slow.join(h, "/")
	fast.join(h, "/")
	slow.conn.mu.Lock()
	slow.conn.queueFull = true
	slow.conn.mu.Unlock()
	if err := srv.Broadcast(context.Background(), "/", nil, nil, "tick"); err != nil {
		t.Fatal(err)
	}
	if got := fast.nextText(); got != `2["tick"]` {
		t.Fatalf("got %s", got)
	}
	if d := h.awaitDisconnected(t); d.reason != "slow consumer" {
		t.Fatalf("slow socket disconnected with %q", d.reason)
	}
	if len(srv.Sockets("/")) != 1 {
		t.Fatal("closed session still indexed")
	}
}

func TestBroadcastCallsRemoteButLocalDoesNot(t *testing.T) {
	h := newTestHooks("/")
	type call struct {
		namespace, event string
		rooms, except    []string
		args             []any
	}
	var mu sync.Mutex
	var calls []call
	srv := newTestServer(h, Options{Remote: func(_ context.Context, namespace string, rooms, except []string, event string, args []any) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{namespace, event, rooms, except, args})
		return nil
	}})
	tc := connect(t, srv)
	tc.join(h, "/")
	if err := srv.Broadcast(context.Background(), "/", []string{"r"}, []string{"x"}, "e", 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.BroadcastLocal(context.Background(), "/", nil, nil, "local"); err != nil {
		t.Fatal(err)
	}
	if got := tc.nextText(); got != `2["local"]` {
		t.Fatalf("got %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0].namespace != "/" || calls[0].event != "e" || !slices.Equal(calls[0].rooms, []string{"r"}) ||
		!slices.Equal(calls[0].except, []string{"x"}) || len(calls[0].args) != 1 {
		t.Fatalf("Remote calls = %+v", calls)
	}
}

func TestBroadcastRefusesBadArguments(t *testing.T) {
	srv := newTestServer(newTestHooks("/"), Options{})
	if err := srv.Broadcast(context.Background(), "/", nil, nil, "e", make(chan int)); err == nil {
		t.Fatal("unencodable argument accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Broadcast(ctx, "/", nil, nil, "e"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestClientDisconnect(t *testing.T) {
	h := newTestHooks("/", "/chat")
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	main := tc.join(h, "/")
	chat := tc.join(h, "/chat")
	tc.send("1/chat,")
	d := h.awaitDisconnected(t)
	if d.socket != chat || d.reason != "client namespace disconnect" {
		t.Fatalf("Disconnected(%s, %q)", d.socket.Namespace(), d.reason)
	}
	if chat.Context().Err() == nil {
		t.Fatal("context of a disconnected socket not cancelled")
	}
	if srv.Socket("/chat", chat.ID()) != nil || srv.Socket("/", main.ID()) != main {
		t.Fatal("index not updated")
	}
	if closed, _ := tc.conn.closedWith(); closed {
		t.Fatal("leaving one namespace closed the session")
	}
	// Events after leaving are ignored; the namespace may be joined again.
	tc.send(`2/chat,["late"]`)
	h.noEvent(t)
	tc.join(h, "/chat")
}

func TestServerDisconnect(t *testing.T) {
	h := newTestHooks("/chat")
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	s := tc.join(h, "/chat")
	s.Disconnect("token expired")
	if got := tc.nextText(); got != `1/chat,` {
		t.Fatalf("got %s", got)
	}
	d := h.awaitDisconnected(t)
	if d.socket != s || d.reason != "server namespace disconnect" {
		t.Fatalf("Disconnected(%q)", d.reason)
	}
	s.Disconnect("again")
	if err := s.Emit("x"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Emit after Disconnect: %v", err)
	}
	tc.silent()
	select {
	case d := <-h.disconnected:
		t.Fatalf("Disconnected called twice (%q)", d.reason)
	default:
	}
}

func TestTransportCloseDisconnectsEverySocket(t *testing.T) {
	h := newTestHooks("/", "/chat")
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	tc.join(h, "/")
	tc.join(h, "/chat")
	tc.conn.Close("ping timeout")
	for range 2 {
		if d := h.awaitDisconnected(t); d.reason != "ping timeout" {
			t.Fatalf("reason %q", d.reason)
		}
	}
	if len(srv.Sockets("/")) != 0 || len(srv.Sockets("/chat")) != 0 {
		t.Fatal("sockets of a closed session still indexed")
	}
}

func TestTransportCloseAbandonsPendingConnect(t *testing.T) {
	h := newTestHooks("/")
	entered := make(chan struct{})
	returned := make(chan struct{})
	h.connect = func(ctx context.Context, _ *Socket, _ json.RawMessage) error {
		close(entered)
		<-ctx.Done()
		close(returned)
		return nil
	}
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	tc.send("0")
	<-entered
	tc.conn.Close("transport close")
	<-returned
	time.Sleep(10 * time.Millisecond) // let decideConnect finish; goleak checks it ends
	if len(srv.Sockets("/")) != 0 {
		t.Fatal("socket of a closed session accepted")
	}
	select {
	case <-h.connected:
		t.Fatal("Connected called after the session closed")
	default:
	}
}

func TestConnectTimeoutClosesIdleSession(t *testing.T) {
	h := newTestHooks("/")
	srv := newTestServer(h, Options{ConnectTimeout: 10 * time.Millisecond})
	idle := connect(t, srv)
	active := connect(t, srv)
	active.join(h, "/")
	deadline := time.After(5 * time.Second)
	for {
		if closed, _ := idle.conn.closedWith(); closed {
			break
		}
		select {
		case <-idle.conn.changed:
		case <-deadline:
			t.Fatal("idle session not closed")
		}
	}
	time.Sleep(30 * time.Millisecond)
	if closed, _ := active.conn.closedWith(); closed {
		t.Fatal("session with a namespace closed by the connect timeout")
	}
}

func TestEventsWaitForConnectedHook(t *testing.T) {
	h := newTestHooks("/")
	release := make(chan struct{})
	h.onConnect = func(_ context.Context, s *Socket) {
		<-release
		_ = s.Join("lobby")
	}
	tc := connect(t, newTestServer(h, Options{}))
	tc.send("0")
	tc.next() // CONNECT ack, sent before the Connected hook
	tc.send(`2["first"]`)
	tc.send(`2["second"]`)
	h.noEvent(t)
	close(release)
	<-h.connected
	for _, want := range []string{"first", "second"} {
		e := h.awaitEvent(t)
		if e.name != want || !e.socket.InRoom("lobby") {
			t.Fatalf("got %q (in lobby: %v), want %q after on-connect work", e.name, e.socket.InRoom("lobby"), want)
		}
	}
}

func TestMalformedPacketsCloseSession(t *testing.T) {
	tests := []struct {
		name   string
		packet string
		binary bool
	}{
		{"garbage", "hello", false},
		{"event name not a string", `2[1]`, false},
		{"event without array", `2"x"`, false},
		{"broken JSON", `2["x",{]`, false},
		{"connect error from client", `4{"message":"x"}`, false},
		{"second connect", "0", false},
		{"too many attachments", `599-["x"]`, false},
		{"binary message without packet", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHooks("/")
			tc := connect(t, newTestServer(h, Options{}))
			tc.join(h, "/")
			tc.conn.listener.OnMessage(engineio.Message{Data: []byte(tt.packet), Binary: tt.binary})
			closed, reason := tc.conn.closedWith()
			if !closed || reason != "parse error" {
				t.Fatalf("closed=%v reason=%q, want closed with parse error", closed, reason)
			}
			if d := h.awaitDisconnected(t); d.reason != "parse error" {
				t.Fatalf("socket disconnected with %q", d.reason)
			}
			h.noEvent(t)
		})
	}
}

func TestSocketsOfUserFollowsClaims(t *testing.T) {
	h := newTestHooks("/", "/chat")
	h.connect = func(_ context.Context, s *Socket, _ json.RawMessage) error {
		s.SetClaims(gatehouse.Claims{"sub": "alice"})
		return nil
	}
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	a := tc.join(h, "/")
	b := tc.join(h, "/chat")
	if n := len(srv.SocketsOfUser("", "alice")); n != 2 {
		t.Fatalf("alice has %d sockets, want 2", n)
	}
	if got := srv.SocketsOfUser("/chat", "alice"); len(got) != 1 || got[0] != b {
		t.Fatalf("alice in /chat: %v", got)
	}
	a.SetClaims(gatehouse.Claims{"sub": "bob"})
	if got := srv.SocketsOfUser("", "bob"); len(got) != 1 || got[0] != a {
		t.Fatalf("bob: %v", got)
	}
	if n := len(srv.SocketsOfUser("", "alice")); n != 1 {
		t.Fatalf("alice keeps %d sockets after a claims change, want 1", n)
	}
}

func TestSocketStateAttachedOnceFromManyGoroutines(t *testing.T) {
	h := newTestHooks("/")
	tc := connect(t, newTestServer(h, Options{}))
	s := tc.join(h, "/")
	type state struct{ n int }
	got := make(chan any, 8)
	for i := range cap(got) {
		go func() { got <- s.AttachOnce(&state{n: i}) }()
	}
	first := <-got
	for range cap(got) - 1 {
		if v := <-got; v != first {
			t.Fatalf("AttachOnce returned %v and %v: two values attached", first, v)
		}
	}
	if s.Attached() != first {
		t.Fatalf("attached %v, want %v", s.Attached(), first)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sidOf(t *testing.T, p *Packet) string {
	t.Helper()
	var ack struct{ SID string }
	if p.Type != PacketConnect || json.Unmarshal(p.Data, &ack) != nil {
		t.Fatalf("got %s %s, want a CONNECT ack", p.Type, p.Data)
	}
	return ack.SID
}

// echoHooks accepts every namespace and acknowledges each event with a
// binary part of its own followed by the event's arguments, exercising the
// decoder and the placeholder renumbering on arbitrary input.
type echoHooks struct{}

func (echoHooks) HasNamespace(string) bool                                { return true }
func (echoHooks) Connect(context.Context, *Socket, json.RawMessage) error { return nil }
func (echoHooks) Connected(context.Context, *Socket)                      {}
func (echoHooks) Disconnected(*Socket, string)                            {}
func (echoHooks) Event(_ context.Context, s *Socket, name string, args gatehouse.Args, ack AckFunc) {
	if ack != nil {
		ack([]byte("own"), args)
	}
	_ = s.Emit(name+"!", args)
}

// FuzzServerMessages drives one session with arbitrary messages: the Server
// must never panic, and whatever it sends must be valid Socket.IO.
func FuzzServerMessages(f *testing.F) {
	f.Add(`0/chat,`, `2/chat,1["x",{"_placeholder":true,"num":0}]`, []byte("b"), `51-/chat,2["y",{"_placeholder":true,"num":0}]`)
	f.Add(`0`, `21["e",1,2]`, []byte{}, `1`)
	f.Add(`0/a,{"k":1}`, `0/a,`, []byte("z"), `3/a,0[]`)
	f.Fuzz(func(t *testing.T, first, second string, binary []byte, third string) {
		srv := NewServer(Options{Hooks: echoHooks{}, Logger: quietLogger()})
		conn := newMemConn()
		conn.listener = srv.Open(conn)
		defer conn.Close("transport close")
		conn.listener.OnMessage(engineio.Message{Data: []byte(first)})
		// A CONNECT is answered from another goroutine; wait for the answer
		// so that the next messages meet an accepted socket.
		if p, err := decodeAll(engineio.Message{Data: []byte(first)}); err == nil && len(p) == 1 && p[0].Type == PacketConnect {
			for len(conn.sentBatches()) == 0 {
				select {
				case <-conn.changed:
				case <-time.After(5 * time.Second):
					t.Fatal("CONNECT not answered")
				}
			}
		}
		conn.listener.OnMessage(engineio.Message{Data: []byte(second)})
		conn.listener.OnMessage(engineio.Message{Data: binary, Binary: true})
		conn.listener.OnMessage(engineio.Message{Data: []byte(third)})
		var d Decoder
		for _, batch := range conn.sentBatches() {
			for _, m := range batch {
				if _, err := d.Add(m); err != nil {
					t.Fatalf("server sent %q: %v", m.Data, err)
				}
			}
		}
	})
}
