package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// The Engine.IO session below is a minimal stand-in that records what the
// Server queues, because the Server is written against the engineio.Conn
// interface alone.

var (
	errFakeClosed    = errors.New("session closed")
	errFakeQueueFull = engineio.ErrQueueFull // what a real session returns, which observers rely on
)

type memConn struct {
	id        string
	handshake *engineio.Handshake
	listener  engineio.Listener

	mu          sync.Mutex
	batches     [][]engineio.Message
	closed      bool
	closeReason string
	queueFull   bool
	changed     chan struct{}
}

var connSeq atomic.Int64

func newMemConn() *memConn {
	return &memConn{
		id: "eio" + strconv.FormatInt(connSeq.Add(1), 10),
		handshake: &engineio.Handshake{
			Header:   engineio.HeaderOf(http.Header{"User-Agent": {"test-agent"}}),
			RemoteIP: "203.0.113.7",
		},
		changed: make(chan struct{}, 1),
	}
}

func (c *memConn) ID() string                     { return c.id }
func (c *memConn) Handshake() *engineio.Handshake { return c.handshake }
func (c *memConn) Transport() string              { return "websocket" }

func (c *memConn) Send(msgs ...engineio.Message) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errFakeClosed
	}
	if c.queueFull {
		c.mu.Unlock()
		c.Close("slow consumer")
		return errFakeQueueFull
	}
	c.batches = append(c.batches, msgs)
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *memConn) Close(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.closeReason = true, reason
	c.mu.Unlock()
	c.signal()
	if c.listener != nil {
		c.listener.OnClose(reason)
	}
}

func (c *memConn) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *memConn) sentBatches() [][]engineio.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]engineio.Message(nil), c.batches...)
}

func (c *memConn) closedWith() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed, c.closeReason
}

// testClient plays the Socket.IO client side of one session.
type testClient struct {
	t       *testing.T
	conn    *memConn
	decoder Decoder
	read    int // batches consumed
	queue   []*Packet
}

func connect(t *testing.T, srv *Server) *testClient {
	t.Helper()
	conn := newMemConn()
	conn.listener = srv.Open(conn)
	t.Cleanup(func() { conn.Close("transport close") })
	return &testClient{t: t, conn: conn}
}

func (tc *testClient) send(packet string, attachments ...[]byte) {
	tc.conn.listener.OnMessage(engineio.Message{Data: []byte(packet)})
	for _, a := range attachments {
		tc.conn.listener.OnMessage(engineio.Message{Data: a, Binary: true})
	}
}

// next waits for the next packet the server sends.
func (tc *testClient) next() *Packet {
	tc.t.Helper()
	deadline := time.After(5 * time.Second)
	for len(tc.queue) == 0 {
		batches := tc.conn.sentBatches()
		if tc.read < len(batches) {
			for _, b := range batches[tc.read:] {
				for _, m := range b {
					p, err := tc.decoder.Add(m)
					if err != nil {
						tc.t.Fatalf("server sent an undecodable message %q: %v", m.Data, err)
					}
					if p != nil {
						tc.queue = append(tc.queue, p)
					}
				}
			}
			tc.read = len(batches)
			continue
		}
		select {
		case <-tc.conn.changed:
		case <-deadline:
			tc.t.Fatal("no packet from the server")
		}
	}
	p := tc.queue[0]
	tc.queue = tc.queue[1:]
	return p
}

// nextText waits for the next packet and returns its text part.
func (tc *testClient) nextText() string {
	tc.t.Helper()
	p := tc.next()
	msgs, err := Encode(p)
	if err != nil {
		tc.t.Fatal(err)
	}
	return string(msgs[0].Data)
}

// silent asserts that everything the server sent so far has been read.
func (tc *testClient) silent() {
	tc.t.Helper()
	if n := len(tc.conn.sentBatches()); n != tc.read || len(tc.queue) > 0 {
		tc.t.Fatalf("server sent %d unexpected batch(es)", n-tc.read+len(tc.queue))
	}
}

// join connects the client to namespace and returns the server's socket.
func (tc *testClient) join(h *testHooks, namespace string) *Socket {
	tc.t.Helper()
	if namespace == "/" {
		tc.send("0")
	} else {
		tc.send("0" + namespace + ",")
	}
	p := tc.next()
	if p.Type != PacketConnect || p.Namespace != namespace {
		tc.t.Fatalf("got %s on %q, want CONNECT on %q", p.Type, p.Namespace, namespace)
	}
	var ack struct{ SID string }
	if err := json.Unmarshal(p.Data, &ack); err != nil || ack.SID == "" {
		tc.t.Fatalf("CONNECT ack %s has no sid", p.Data)
	}
	return h.awaitConnected(tc.t, ack.SID)
}

type eventCall struct {
	socket *Socket
	name   string
	args   gatehouse.Args
	ack    AckFunc
}

type disconnectCall struct {
	socket *Socket
	reason string
}

// testHooks records what the Server reports; fields set before use change
// its decisions.
type testHooks struct {
	namespaces map[string]bool
	connect    func(ctx context.Context, s *Socket, auth json.RawMessage) error
	onConnect  func(ctx context.Context, s *Socket)

	connected    chan *Socket
	events       chan eventCall
	disconnected chan disconnectCall
}

func newTestHooks(namespaces ...string) *testHooks {
	h := &testHooks{
		namespaces:   map[string]bool{},
		connected:    make(chan *Socket, 64),
		events:       make(chan eventCall, 64),
		disconnected: make(chan disconnectCall, 64),
	}
	for _, n := range namespaces {
		h.namespaces[n] = true
	}
	return h
}

func (h *testHooks) HasNamespace(name string) bool { return h.namespaces[name] }

func (h *testHooks) Connect(ctx context.Context, s *Socket, auth json.RawMessage) error {
	if h.connect != nil {
		return h.connect(ctx, s, auth)
	}
	return nil
}

func (h *testHooks) Connected(ctx context.Context, s *Socket) {
	if h.onConnect != nil {
		h.onConnect(ctx, s)
	}
	h.connected <- s
}

func (h *testHooks) Event(_ context.Context, s *Socket, event string, args gatehouse.Args, ack AckFunc) {
	h.events <- eventCall{socket: s, name: event, args: args, ack: ack}
}

func (h *testHooks) Disconnected(s *Socket, reason string) {
	h.disconnected <- disconnectCall{socket: s, reason: reason}
}

func (h *testHooks) awaitConnected(t *testing.T, id string) *Socket {
	t.Helper()
	select {
	case s := <-h.connected:
		if s.ID() != id {
			t.Fatalf("Connected with socket %q, CONNECT ack named %q", s.ID(), id)
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("Connected hook not called")
	}
	return nil
}

func (h *testHooks) awaitEvent(t *testing.T) eventCall {
	t.Helper()
	select {
	case e := <-h.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("Event hook not called")
	}
	return eventCall{}
}

func (h *testHooks) awaitDisconnected(t *testing.T) disconnectCall {
	t.Helper()
	select {
	case d := <-h.disconnected:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("Disconnected hook not called")
	}
	return disconnectCall{}
}

func (h *testHooks) noEvent(t *testing.T) {
	t.Helper()
	select {
	case e := <-h.events:
		t.Fatalf("unexpected event %q", e.name)
	default:
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestServer(h *testHooks, opts Options) *Server {
	opts.Hooks = h
	opts.Logger = quietLogger()
	return NewServer(opts)
}
