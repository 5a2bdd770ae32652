package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// queueWait bounds the waits of the queue tests, which let a blocked
// backend go and then collect every answer.
const queueWait = 30 * time.Second

// slowBackend is a webhook backend that holds every request until release
// is called, as a backend that has stopped answering does.
type slowBackend struct {
	*httptest.Server
	gate     chan struct{}
	requests atomic.Int64
}

func startSlowBackend(t *testing.T) *slowBackend {
	t.Helper()
	b := &slowBackend{gate: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-b.gate:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(b.Close)
	t.Cleanup(b.release) // before Close: its handlers must return
	return b
}

// awaitBackendCalled waits until the backend holds a request.
func awaitBackendCalled(t *testing.T, b *slowBackend) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for b.requests.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the backend was never called")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *slowBackend) release() {
	select {
	case <-b.gate:
	default:
		close(b.gate)
	}
}

// queueConfig serves /a with events handled by backend; the flood limit is
// raised out of the way so that the queue's own limits are what answer.
func queueConfig(backend string) string {
	return strings.ReplaceAll(`
server:
  limits:
    flood: {rate: 100000, burst: 100000}
guards:
  small: {max_size: 1KB}
namespaces:
  /a:
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
      upload:
        handler: {webhook: {url: "BACKEND", timeout: 60s}}
      note:
        guards: [small]
        handler: {webhook: {url: "BACKEND", timeout: 60s}}
  /slow:
    on_connect:
      - webhook: {url: "BACKEND", timeout: 60s}
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
`, "BACKEND", backend)
}

// blob is an event payload of about n bytes.
func blob(n int) map[string]string { return map[string]string{"blob": strings.Repeat("b", n)} }

// pipelined is a socket sending events without waiting for their answers,
// and the C2 codes of the answers ("" for a success) as they come.
type pipelined struct {
	client *sioclient.Client
	sid    string
	codes  chan string
}

// connectSocket opens a session to /a and returns its socket id.
func connectSocket(t *testing.T, g *liveGateway) (*sioclient.Client, string) {
	t.Helper()
	return connectSocketTo(t, g, "/a")
}

// connectSocketTo opens a session to nsp and returns its socket id.
func connectSocketTo(t *testing.T, g *liveGateway, nsp string) (*sioclient.Client, string) {
	t.Helper()
	c := g.dial(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	sid, err := c.Connect(ctx, nsp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, sid
}

// pipeline sends n events with acks to /a at once, each from its own
// goroutine.
func pipeline(c *sioclient.Client, sid, event string, payload any, n int) *pipelined {
	return pipelineTo(c, "/a", sid, event, payload, n)
}

// pipelineTo is pipeline to the namespace nsp.
func pipelineTo(c *sioclient.Client, nsp, sid, event string, payload any, n int) *pipelined {
	p := &pipelined{client: c, sid: sid, codes: make(chan string, n)}
	for range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), queueWait)
			defer cancel()
			args, err := c.EmitWithAck(ctx, nsp, event, payload)
			if err != nil {
				p.codes <- "no answer: " + err.Error()
				return
			}
			var ack map[string]any
			if len(args) > 0 {
				_ = json.Unmarshal(args[0], &ack)
			}
			p.codes <- errorCode(ack)
		}()
	}
	return p
}

// serialState is what a socket's queue holds: jobs waiting, whether one
// runs, and their bytes.
func serialState(g *liveGateway, sid string) (waiting int, running bool, held int64) {
	s := g.gw.sockets.Socket("/a", sid)
	if s == nil {
		return 0, false, 0
	}
	q := serialFor(s)
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue), q.running, q.bytes
}

// awaitArrived waits until the gateway has taken in all n events of p:
// answered already, waiting in the queue or running.
func awaitArrived(t *testing.T, g *liveGateway, p *pipelined, n int) {
	t.Helper()
	deadline := time.Now().Add(queueWait)
	for time.Now().Before(deadline) {
		waiting, running, _ := serialState(g, p.sid)
		if running {
			waiting++
		}
		if waiting+len(p.codes) >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	waiting, running, held := serialState(g, p.sid)
	t.Fatalf("the gateway did not take in the %d events: %d waiting (%d bytes), running %v, %d answered", n, waiting, held, running, len(p.codes))
}

// awaitAnswers waits up to within for n answers of p to have come, and
// reports whether they did; the answers stay in p.codes.
func awaitAnswers(p *pipelined, n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for len(p.codes) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// answers collects the codes of n answers by count.
func (p *pipelined) answers(t *testing.T, n int) map[string]int {
	t.Helper()
	got := make(map[string]int)
	timeout := time.After(queueWait)
	for range n {
		select {
		case code := <-p.codes:
			got[code]++
		case <-timeout:
			t.Fatalf("only %v of %d events answered", got, n)
		}
	}
	return got
}

func TestEventsPipelinedBehindASlowWebhookHoldAtMostTheQueueBudget(t *testing.T) {
	skipHeavyUnderRace(t)
	backend := startSlowBackend(t)
	g := startLiveGateway(t, queueConfig(backend.URL), Registries{})
	sockets := edgeScale(2, 16)
	const events, size = 16, 900 << 10
	payload := blob(size)
	before := heapInUse()
	attacks := make([]*pipelined, sockets)
	for i := range attacks {
		c, sid := connectSocket(t, g)
		attacks[i] = pipeline(c, sid, "upload", payload, events)
	}
	for _, p := range attacks {
		awaitArrived(t, g, p, events)
	}
	honestPings(t, g)
	held := heapInUse() - before
	// Per socket: the queue's 4MB, the webhook's copy of the running
	// event, and the transport's buffers.
	budget := int64(sockets) * (4<<20 + 2<<20)
	t.Logf("%d sockets × %d events of %d KiB behind a stalled webhook: heap +%s (budget %s)", sockets, events, size>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("queued events hold %s, budget %s", mib(held), mib(budget))
	}
	for _, p := range attacks {
		if _, _, bytes := serialState(g, p.sid); bytes > 4<<20 {
			t.Errorf("socket %s queues %s, max_queued_bytes_per_socket is 4MB", p.sid, mib(bytes))
		}
	}
	backend.release()
	assertSomeRunRestRefusedOverBytes(t, g, attacks, events)
}

func TestEventsPastTheQueueCountAreRefusedRateLimited(t *testing.T) {
	backend := startSlowBackend(t)
	g := startLiveGateway(t, queueConfig(backend.URL), Registries{})
	const events = socketio.MaxQueuedEvents + 40
	c, sid := connectSocket(t, g)
	// One runs, held by the backend; MaxQueuedEvents wait behind it, the
	// rest are refused.
	first := pipeline(c, sid, "upload", map[string]string{"small": "yes"}, 1)
	awaitBackendCalled(t, backend)
	p := pipeline(c, sid, "upload", map[string]string{"small": "yes"}, events-1)
	// The first, running, counts as arrived.
	awaitArrived(t, g, p, events)
	backend.release()
	got := p.answers(t, events-1)
	got[""] += first.answers(t, 1)[""]
	if got[""] != socketio.MaxQueuedEvents+1 || got["rate_limited"] != events-socketio.MaxQueuedEvents-1 {
		t.Errorf("answers %v, want %d run and %d rate_limited", got, socketio.MaxQueuedEvents+1, events-socketio.MaxQueuedEvents-1)
	}
	if n := g.gw.LimitRefusals()["max_queued_events_per_socket"]; n != uint64(got["rate_limited"]) {
		t.Errorf("max_queued_events_per_socket refusals = %d, want %d", n, got["rate_limited"])
	}
}

func TestEventsRefusedByACheapGuardNeverWaitInTheQueue(t *testing.T) {
	backend := startSlowBackend(t)
	g := startLiveGateway(t, queueConfig(backend.URL), Registries{})
	const events, size = 16, 900 << 10
	c, sid := connectSocket(t, g)
	// One event within max_size holds the backend; then large ones that
	// the max_size guard refuses.
	first := pipeline(c, sid, "note", map[string]string{"n": "1"}, 1)
	awaitBackendCalled(t, backend)
	before := heapInUse()
	p := pipeline(c, sid, "note", blob(size), events)
	awaitArrived(t, g, p, events+1)
	held := heapInUse() - before
	_, _, bytes := serialState(g, sid)
	t.Logf("%d events of %d KiB refused by max_size behind a stalled webhook: heap +%s, queue %d bytes", events, size>>10, mib(held), bytes)
	if bytes > 1<<10 {
		t.Errorf("the queue holds %d bytes of events the max_size guard refuses", bytes)
	}
	if held > 4<<20 {
		t.Errorf("events refused by max_size hold %s", mib(held))
	}
	backend.release()
	if got := first.answers(t, 1); got[""] != 1 {
		t.Errorf("the first event: %v", got)
	}
	if got := p.answers(t, events); got["payload_too_large"] != events {
		t.Errorf("answers %v, want all %d payload_too_large", got, events)
	}
}

func TestEventsBeforeASlowOnConnectHoldAtMostTheQueueBudget(t *testing.T) {
	skipHeavyUnderRace(t)
	backend := startSlowBackend(t)
	g := startLiveGateway(t, queueConfig(backend.URL), Registries{})
	sockets := edgeScale(2, 16)
	const events, size = 16, 900 << 10
	payload := blob(size)
	before := heapInUse()
	attacks := make([]*pipelined, sockets)
	for i := range attacks {
		// The CONNECT ack comes before on_connect runs; on_connect then
		// waits on the stalled backend, and the events wait for it.
		c, sid := connectSocketTo(t, g, "/slow")
		attacks[i] = pipelineTo(c, "/slow", sid, "ping", payload, events)
	}
	// The events over the budget are answered at once, which tells that
	// all have arrived (4 of 900 KiB fit in 4MB). Without an answer the
	// heap is measured anyway after a while, the events held.
	for _, p := range attacks {
		awaitAnswers(p, events-4, 10*time.Second)
	}
	honestPings(t, g)
	held := heapInUse() - before
	budget := int64(sockets) * (4<<20 + 1<<20)
	t.Logf("%d sockets × %d events of %d KiB before on_connect ends: heap +%s (budget %s)", sockets, events, size>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("early events hold %s, budget %s", mib(held), mib(budget))
	}
	backend.release()
	assertSomeRunRestRefusedOverBytes(t, g, attacks, events)
}

func TestUnknownEventWithALongNameIsQuotedShort(t *testing.T) {
	g := startLiveGateway(t, binaryConfig, Registries{})
	c := g.dial(t, "/a")
	name := strings.Repeat("n", 900<<10)
	got := ackOf(t, c, "/a", name, nil)
	e, _ := got["error"].(map[string]any)
	message, _ := e["message"].(string)
	if e["code"] != "unknown_event" || len(message) > 100 || !strings.Contains(message, "…") {
		t.Errorf("error ack %.200v (message of %d bytes), want unknown_event quoting the name cut short", got, len(message))
	}
	// Without an ack, the exception event names it cut short too.
	if err := c.Emit("/a", name); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(limitsWait)
	for {
		select {
		case ev := <-c.Events():
			if ev.Name != "exception" {
				continue
			}
			var body map[string]any
			_ = json.Unmarshal(ev.Args[0], &body)
			event, _ := body["event"].(string)
			message, _ := body["message"].(string)
			if body["code"] != "unknown_event" || len(event) > 70 || len(message) > 100 {
				t.Errorf("exception with event of %d bytes and message of %d bytes, want both cut short", len(event), len(message))
			}
			return
		case <-deadline:
			t.Fatal("no exception event")
		}
	}
}

func TestEventsOverTheQueueBudgetWithoutAckGetAnException(t *testing.T) {
	backend := startSlowBackend(t)
	g := startLiveGateway(t, queueConfig(backend.URL), Registries{})
	c, sid := connectSocket(t, g)
	first := pipeline(c, sid, "upload", map[string]string{"n": "1"}, 1)
	awaitBackendCalled(t, backend)
	// 6 × 900 KiB behind it: 4 fit in 4MB, 2 are refused.
	for range 6 {
		if err := c.Emit("/a", "upload", blob(900<<10)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(limitsWait)
	for refused := 0; refused < 2; {
		select {
		case ev := <-c.Events():
			if ev.Name != "exception" {
				continue
			}
			var body map[string]any
			_ = json.Unmarshal(ev.Args[0], &body)
			if body["status"] != "error" || body["code"] != "payload_too_large" || body["event"] != "upload" ||
				body["limit"] != "max_queued_bytes_per_socket" {
				t.Fatalf("exception %v, want payload_too_large for upload naming its limit", body)
			}
			refused++
		case <-deadline:
			t.Fatal("no exception for the events over max_queued_bytes_per_socket")
		}
	}
	backend.release()
	if got := first.answers(t, 1); got[""] != 1 {
		t.Errorf("the first event: %v", got)
	}
}

func TestAGuardReadingTheSocketSeesWhatItsEarlierQueuedEventsDid(t *testing.T) {
	backend := startSlowBackend(t)
	g := startLiveGateway(t, strings.ReplaceAll(`
guards:
  member: {expr: {condition: '"r1" in socket.rooms'}}
namespaces:
  /a:
    events:
      enter:
        handlers:
          - webhook: {url: "BACKEND", timeout: 60s}
          - join: {room: '"r1"'}
      speak:
        guards: [member]
        handler: {webhook: {url: "BACKEND", timeout: 60s}}
`, "BACKEND", backend.URL), Registries{})
	c, sid := connectSocket(t, g)
	// speak arrives while enter, which joins r1, still waits on the
	// backend: its guard must be decided in its turn, after the join.
	enter := pipeline(c, sid, "enter", nil, 1)
	awaitBackendCalled(t, backend)
	speak := pipeline(c, sid, "speak", nil, 1)
	awaitArrived(t, g, speak, 2)
	backend.release()
	if got := enter.answers(t, 1); got[""] != 1 {
		t.Fatalf("enter: %v", got)
	}
	if got := speak.answers(t, 1); got[""] != 1 {
		t.Errorf("speak after enter: %v, want it let through by the member guard", got)
	}
}

// assertSomeRunRestRefusedOverBytes checks that each attacker's events were
// all answered, some run and the rest refused payload_too_large, and that
// the refusals were counted under max_queued_bytes_per_socket.
func assertSomeRunRestRefusedOverBytes(t *testing.T, g *liveGateway, attacks []*pipelined, events int) {
	t.Helper()
	for _, p := range attacks {
		got := p.answers(t, events)
		if got[""] == 0 || got["payload_too_large"] == 0 || got[""]+got["payload_too_large"] != events {
			t.Errorf("answers %v: want some run and the rest refused payload_too_large, each answered", got)
		}
	}
	if n := g.gw.LimitRefusals()["max_queued_bytes_per_socket"]; n == 0 {
		t.Error("no max_queued_bytes_per_socket refusal counted")
	}
}
