package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// countingHandler is a slog.Handler that counts records by level.
type countingHandler struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, rec slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[slog.Level]int{}
	}
	h.counts[rec.Level]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[level]
}

// newTestRedis returns a started adapter with short reconnection delays.
func newTestRedis(t testing.TB, url string, recv Receiver, logger *slog.Logger) *Redis {
	t.Helper()
	a, err := NewRedis(RedisOptions{
		URL: url, Prefix: "test", Logger: logger,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		HealthInterval: 200 * time.Millisecond, RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	a.Start(recv)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func waitUp(t *testing.T, a *Redis) {
	t.Helper()
	eventually(t, 10*time.Second, "the adapter to be up", func() bool { up, _ := a.State(); return up })
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRedisSendReachesOtherNodesOnly(t *testing.T) {
	srv := startRedis(t)
	var recvA, recvB recorder
	a := newTestRedis(t, srv.url(), &recvA, nil)
	b := newTestRedis(t, srv.url(), &recvB, nil)
	waitUp(t, a)
	waitUp(t, b)

	sent := &Message{
		Kind: KindBroadcast, Namespace: "/chat", Rooms: []string{"r1", "r2"}, Except: []string{"sid1"},
		Event: "message", Args: []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{"_placeholder":true,"num":0}`)},
		Attachments: [][]byte{{0, 1, 2, 255}},
	}
	if err := a.Send(context.Background(), sent); err != nil {
		t.Fatalf("Send: %v", err)
	}
	eventually(t, 5*time.Second, "b to receive the message", func() bool { return recvB.count() == 1 })
	got := recvB.messages()[0]
	want := *sent
	want.Node = a.NodeID()
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("b received %+v, want %+v", *got, want)
	}
	// A second message from b proves the channel is flowing both ways
	// and that a never delivers its own message.
	if err := b.Send(context.Background(), &Message{Kind: KindDisconnect, User: "alice"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	eventually(t, 5*time.Second, "a to receive b's message", func() bool { return recvA.count() == 1 })
	if m := recvA.messages()[0]; m.Kind != KindDisconnect || m.User != "alice" || m.Node != b.NodeID() {
		t.Errorf("a received %+v", m)
	}
	time.Sleep(100 * time.Millisecond)
	if n := recvB.count(); n != 1 {
		t.Errorf("b received %d messages, want 1 (its own must not come back)", n)
	}
}

func TestRedisRequestGathersEveryOtherNodesAnswer(t *testing.T) {
	srv := startRedis(t)
	answerWith := func(n int) *recorder {
		return &recorder{answer: func(req *Message) *Message {
			if req.Kind != KindRoomSize || req.Namespace != "/chat" || len(req.Rooms) != 1 || req.Rooms[0] != "lobby" {
				return nil
			}
			return &Message{Count: n}
		}}
	}
	asker := newTestRedis(t, srv.url(), answerWith(100), nil)
	b := newTestRedis(t, srv.url(), answerWith(2), nil)
	c := newTestRedis(t, srv.url(), answerWith(3), nil)
	for _, a := range []*Redis{asker, b, c} {
		waitUp(t, a)
	}
	answers, err := asker.Request(context.Background(), &Message{Kind: KindRoomSize, Namespace: "/chat", Rooms: []string{"lobby"}})
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	total, nodes := 0, map[string]bool{}
	for _, a := range answers {
		if a.Kind != KindAnswer {
			t.Errorf("answer kind %q, want %q", a.Kind, KindAnswer)
		}
		total += a.Count
		nodes[a.Node] = true
	}
	if total != 5 || len(answers) != 2 || !nodes[b.NodeID()] || !nodes[c.NodeID()] {
		t.Errorf("answers %+v: total %d from %v, want 5 from b and c", answers, total, nodes)
	}
}

func TestRedisRequestTimesOutWhenANodeDoesNotAnswer(t *testing.T) {
	srv := startRedis(t)
	asker := newTestRedis(t, srv.url(), &recorder{}, nil)
	answering := newTestRedis(t, srv.url(), &recorder{answer: func(*Message) *Message { return &Message{Count: 1} }}, nil)
	silent := newTestRedis(t, srv.url(), &recorder{}, nil) // answers nil
	for _, a := range []*Redis{asker, answering, silent} {
		waitUp(t, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	answers, err := asker.Request(ctx, &Message{Kind: KindRoomSize, Namespace: "/", Rooms: []string{"x"}})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Request error = %v, want ErrTimeout", err)
	}
	if len(answers) != 1 || answers[0].Count != 1 {
		t.Errorf("answers = %+v, want the one node that answered", answers)
	}
}

func TestRedisPublishReachesBackendSubscribers(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	backend := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.url(), "redis://"), "/0")})
	defer backend.Close()
	sub := backend.Subscribe(context.Background(), "test:publish:orders")
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := a.Publish(context.Background(), "orders", []byte(`{"id":7}`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("backend receive: %v", err)
	}
	if msg.Channel != "test:publish:orders" || msg.Payload != `{"id":7}` {
		t.Errorf("backend got %s %s", msg.Channel, msg.Payload)
	}
}

func TestRedisUnreachableAtStartIsDownThenConnects(t *testing.T) {
	srv := startRedis(t)
	srv.stop()
	logs := &countingHandler{}
	var recvA, recvB recorder
	a := newTestRedis(t, srv.url(), &recvA, slog.New(logs))

	eventually(t, 5*time.Second, "the first connection attempt to fail", func() bool {
		_, cause := a.State()
		return strings.Contains(cause, "unreachable")
	})
	up, cause := a.State()
	if up || !strings.Contains(cause, "127.0.0.1:") {
		t.Errorf("State() = %v, %q; want down with a cause naming the address", up, cause)
	}
	before := a.Errors()
	err := a.Send(context.Background(), &Message{Kind: KindBroadcast, Namespace: "/"})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Send while down = %v, want ErrUnavailable", err)
	}
	if err := a.Publish(context.Background(), "events", []byte("{}")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Publish while down = %v, want ErrUnavailable", err)
	}
	if _, err := a.Request(context.Background(), &Message{Kind: KindRoomSize}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Request while down = %v, want ErrUnavailable", err)
	}
	if got := a.Errors() - before; got != 3 {
		t.Errorf("Errors grew by %d, want 3 (one per dropped message)", got)
	}
	time.Sleep(300 * time.Millisecond) // several reconnection attempts
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d errors logged during the outage, want 1", n)
	}

	srv.start()
	waitUp(t, a)
	b := newTestRedis(t, srv.url(), &recvB, nil)
	waitUp(t, b)
	if err := a.Send(context.Background(), &Message{Kind: KindBroadcast, Namespace: "/", Event: "e"}); err != nil {
		t.Fatalf("Send after Redis came up: %v", err)
	}
	eventually(t, 5*time.Second, "b to receive the message", func() bool { return recvB.count() == 1 })
}

func TestRedisLostWhileRunningRecovers(t *testing.T) {
	srv := startRedis(t)
	logs := &countingHandler{}
	var recvA, recvB recorder
	a := newTestRedis(t, srv.url(), &recvA, slog.New(logs))
	b := newTestRedis(t, srv.url(), &recvB, nil)
	waitUp(t, a)
	waitUp(t, b)

	srv.stop()
	eventually(t, 5*time.Second, "a to notice the outage", func() bool { up, _ := a.State(); return !up })
	for range 50 {
		_ = a.Send(context.Background(), &Message{Kind: KindBroadcast, Namespace: "/"})
	}
	time.Sleep(300 * time.Millisecond)
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d errors logged for one outage with 50 dropped messages, want 1", n)
	}
	if a.Errors() < 50 {
		t.Errorf("Errors() = %d, want at least the 50 dropped messages", a.Errors())
	}

	srv.start()
	waitUp(t, a)
	waitUp(t, b)
	if err := a.Send(context.Background(), &Message{Kind: KindBroadcast, Namespace: "/", Event: "after"}); err != nil {
		t.Fatalf("Send after recovery: %v", err)
	}
	eventually(t, 5*time.Second, "b to receive the message sent after recovery", func() bool {
		msgs := recvB.messages()
		return len(msgs) == 1 && msgs[0].Event == "after"
	})
	if n := logs.count(slog.LevelInfo); n != 2 {
		t.Errorf("%d connection notices logged, want 2 (connected, reconnected)", n)
	}
}

func TestRedisCloseStopsEverything(t *testing.T) {
	srv := startRedis(t)
	unstarted, err := NewRedis(RedisOptions{URL: srv.url()})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstarted.Close(); err != nil {
		t.Errorf("Close of an adapter never started: %v", err)
	}
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := a.Send(context.Background(), &Message{Kind: KindBroadcast}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if up, cause := a.State(); up || cause == "" {
		t.Errorf("State after Close = %v, %q", up, cause)
	}
}

func TestNewRedisRejectsBadURLs(t *testing.T) {
	for _, url := range []string{"http://localhost:6379", "redis://host:port:extra/x", ""} {
		if a, err := NewRedis(RedisOptions{URL: url}); err == nil {
			_ = a.Close()
			t.Errorf("NewRedis(%q) accepted the URL", url)
		}
	}
}

func TestRedisIgnoresUndecodableMessages(t *testing.T) {
	srv := startRedis(t)
	var recv recorder
	a := newTestRedis(t, srv.url(), &recv, nil)
	b := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	waitUp(t, b)
	if err := b.client.Publish(context.Background(), "test:cluster", "not json").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), &Message{Kind: KindBroadcast, Event: "fine"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the valid message", func() bool { return recv.count() == 1 })
	if a.Errors() != 1 {
		t.Errorf("Errors() = %d, want 1 for the undecodable message", a.Errors())
	}
}
