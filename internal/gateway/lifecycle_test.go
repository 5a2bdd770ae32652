package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/lifecycle"
	"github.com/gatehouse-dev/gatehouse/internal/lifecycle/lifecycletest"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// hookBackend is the hooks' backend (see lifecycletest), waited on as the
// gateway's tests wait.
type hookBackend struct {
	*lifecycletest.Backend[lifecycle.Event]
}

func startHookBackend(t testing.TB) *hookBackend {
	t.Helper()
	return &hookBackend{lifecycletest.Start[lifecycle.Event](t)}
}

// waitFor polls the backend until cond holds of what it received.
func (b *hookBackend) waitFor(t *testing.T, what string, cond func([]lifecycle.Event) bool) []lifecycle.Event {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for {
		got := b.Received()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend: no %s; got %s", what, describeHooks(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describeHooks(events []lifecycle.Event) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "\n  %s %s %s socket=%s user=%s room=%s reason=%q", ev.ID, ev.Type, ev.Namespace, ev.Socket, ev.User, ev.Room, ev.Reason)
	}
	return b.String()
}

func countHooks(events []lifecycle.Event, kind string) int {
	n := 0
	for _, ev := range events {
		if ev.Type == kind {
			n++
		}
	}
	return n
}

// hooksConfig is a /chat namespace with JWT auth, join and leave, whose
// lifecycle hooks go to BACKEND in small, quick batches.
const hooksConfig = `
server:
  hooks:
    url: BACKEND
    batch: {size: 5, interval: 20ms}
    retry: {min_backoff: 10ms, max_backoff: 100ms}
    flush_timeout: 5s
    EXTRA
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
ADAPTER
namespaces:
  /chat:
    auth: required
    events:
      join:
        handler: {join: {room: data.room}}
      leave:
        handler: {leave: {room: data.room}}
`

func hooksGatewayConfig(backend, extra, adapter string) string {
	return strings.NewReplacer("BACKEND", backend, "EXTRA", extra, "ADAPTER", adapter).Replace(hooksConfig)
}

// hookClient connects a client to /chat as sub; it is closed when the test
// ends.
func hookClient(t *testing.T, g *liveGateway, sub string) (*sioclient.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sid, err := c.Connect(ctx, "/chat", map[string]string{"token": signedToken(t, sub)})
	if err != nil {
		t.Fatalf("connect /chat as %s: %v", sub, err)
	}
	return c, sid
}

func TestHooksTellTheBackendOfAConnectItsRoomsAndItsDisconnectInOrder(t *testing.T) {
	b := startHookBackend(t)
	g := startLiveGateway(t, hooksGatewayConfig(b.URL(), "", ""), Registries{})
	c, sid := hookClient(t, g, "alice")
	ackOf(t, c, "/chat", "join", map[string]string{"room": "lobby"})
	ackOf(t, c, "/chat", "leave", map[string]string{"room": "lobby"})
	ackOf(t, c, "/chat", "join", map[string]string{"room": "lobby"})
	_ = c.Close()
	got := b.waitFor(t, "disconnect", func(evs []lifecycle.Event) bool { return countHooks(evs, lifecycle.KindDisconnect) == 1 })
	want := []string{"connect ", "room_occupied lobby", "room_vacated lobby", "room_occupied lobby", "room_vacated lobby", "disconnect "}
	var kinds []string
	for i, ev := range got {
		kinds = append(kinds, ev.Type+" "+ev.Room)
		if ev.Seq != uint64(i+1) || ev.Namespace != "/chat" || ev.Node == "" || ev.Time.IsZero() {
			t.Errorf("event %d lacks its seq, namespace, node or time: %+v", i, ev)
		}
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %q, want %q", kinds, want)
	}
	connect, disconnect := got[0], got[len(got)-1]
	if connect.Socket != sid || connect.User != "alice" || disconnect.Socket != sid || disconnect.User != "alice" {
		t.Errorf("connect %+v and disconnect %+v should name socket %s and user alice", connect, disconnect, sid)
	}
	if disconnect.Reason != "transport close" {
		t.Errorf("disconnect reason %q, want transport close", disconnect.Reason)
	}
}

func TestHooksSendOnlyTheKindsTheConfigAsksFor(t *testing.T) {
	b := startHookBackend(t)
	g := startLiveGateway(t, hooksGatewayConfig(b.URL(), "events: [room_occupied]", ""), Registries{})
	c, _ := hookClient(t, g, "alice")
	ackOf(t, c, "/chat", "join", map[string]string{"room": "lobby"})
	_ = c.Close()
	b.waitFor(t, "room_occupied", func(evs []lifecycle.Event) bool { return len(evs) == 1 })
	time.Sleep(200 * time.Millisecond) // a vacated or disconnect would have come by now
	if got := b.Received(); len(got) != 1 || got[0].Type != lifecycle.KindRoomOccupied {
		t.Fatalf("got %s, want room_occupied alone", describeHooks(got))
	}
}

func TestHooksOverflowIsCountedInTheMetricsWhileTheBackendIsDown(t *testing.T) {
	b := startHookBackend(t)
	b.Stop()
	g := startLiveGateway(t, hooksGatewayConfig(b.URL(), "buffer: 3", ""), Registries{})
	for i := range 10 {
		hookClient(t, g, fmt.Sprintf("user%d", i))
	}
	// The connect hook runs just after the CONNECT is answered: wait for
	// the last one.
	deadline := time.Now().Add(limitsWait)
	for g.gw.Lifecycle().Stats().Overflowed < 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	series := scrape(t, g.addr)
	if got := series[`gatehouse_hooks_events_total{result="overflow"}`]; got != 7 {
		t.Errorf("overflow counted %v, want 7 of 10 connects past a buffer of 3", got)
	}
	if got := series["gatehouse_hooks_buffered_events"]; got != 3 {
		t.Errorf("buffered %v, want 3", got)
	}
	b.Restart()
	got := b.waitFor(t, "the 3 buffered connects", func(evs []lifecycle.Event) bool { return len(evs) == 3 })
	for i, ev := range got {
		if ev.Seq != uint64(i+1) {
			t.Errorf("event %d is seq %d: the buffer keeps the oldest", i, ev.Seq)
		}
	}
}

func TestHooksShutdownPostsTheDisconnectsOfTheSocketsItCloses(t *testing.T) {
	b := startHookBackend(t)
	text := strings.Replace(hooksGatewayConfig(b.URL(), "", ""), "batch: {size: 5, interval: 20ms}", "batch: {size: 100, interval: 1h}", 1)
	g := startLiveGateway(t, text, Registries{})
	for i := range 3 {
		c, _ := hookClient(t, g, fmt.Sprintf("user%d", i))
		ackOf(t, c, "/chat", "join", map[string]string{"room": "lobby"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if err := g.stop(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	got := b.Received() // posted before Shutdown returned, though the batch interval is an hour
	if countHooks(got, lifecycle.KindConnect) != 3 || countHooks(got, lifecycle.KindDisconnect) != 3 ||
		countHooks(got, lifecycle.KindRoomOccupied) != 1 || countHooks(got, lifecycle.KindRoomVacated) != 1 {
		t.Fatalf("after shutdown the backend has %s", describeHooks(got))
	}
	for _, ev := range got {
		if ev.Type == lifecycle.KindDisconnect && ev.Reason != "server shutting down" {
			t.Errorf("disconnect reason %q, want server shutting down", ev.Reason)
		}
	}
}

// settled waits until every gateway's room changes are recorded in Redis,
// so that the next step of a test starts from the cluster's state.
func settled(t *testing.T, gateways ...*liveGateway) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for _, g := range gateways {
		for g.gw.Lifecycle().RoomsPending() > 0 {
			if time.Now().After(deadline) {
				t.Fatal("room changes not recorded in Redis")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestHooksOnTwoGatewaysSendEachEventOnceAcrossABackendRestart(t *testing.T) {
	redisURL, _ := startStallableRedis(t)
	b := startHookBackend(t)
	adapterYAML := "adapter:\n  kind: redis\n  redis: {url: \"" + redisURL + "\", prefix: hooks-test}"
	text := hooksGatewayConfig(b.URL(), "", adapterYAML)
	g1 := startLiveGateway(t, text, Registries{})
	g2 := startLiveGateway(t, text, Registries{})

	alice, _ := hookClient(t, g1, "alice")
	bob, _ := hookClient(t, g2, "bob")
	ackOf(t, alice, "/chat", "join", map[string]string{"room": "lobby"})
	settled(t, g1)
	ackOf(t, bob, "/chat", "join", map[string]string{"room": "lobby"})
	settled(t, g2)
	b.waitFor(t, "lobby occupied", func(evs []lifecycle.Event) bool { return countHooks(evs, lifecycle.KindRoomOccupied) == 1 })

	b.Stop() // the backend restarts: what follows waits in the gateways' buffers
	ackOf(t, alice, "/chat", "leave", map[string]string{"room": "lobby"})
	settled(t, g1)
	carol, _ := hookClient(t, g2, "carol")
	ackOf(t, carol, "/chat", "join", map[string]string{"room": "game"})
	ackOf(t, bob, "/chat", "leave", map[string]string{"room": "lobby"})
	settled(t, g1, g2)
	time.Sleep(100 * time.Millisecond) // posts fail and are retried meanwhile
	b.Restart()

	ackOf(t, alice, "/chat", "join", map[string]string{"room": "game"})
	settled(t, g1)
	for _, c := range []*sioclient.Client{alice, bob, carol} {
		_ = c.Close()
	}
	got := b.waitFor(t, "every event", func(evs []lifecycle.Event) bool {
		return countHooks(evs, lifecycle.KindDisconnect) == 3 && countHooks(evs, lifecycle.KindRoomVacated) == 2
	})
	time.Sleep(200 * time.Millisecond) // nothing more, no repeat, comes
	got = b.Received()

	wantCounts := map[string]int{lifecycle.KindConnect: 3, lifecycle.KindDisconnect: 3, lifecycle.KindRoomOccupied: 2, lifecycle.KindRoomVacated: 2}
	for kind, n := range wantCounts {
		if countHooks(got, kind) != n {
			t.Errorf("%d %s events, want %d, in %s", countHooks(got, kind), kind, n, describeHooks(got))
		}
	}
	checkHooksOnceInOrder(t, got)
	for _, g := range []*liveGateway{g1, g2} {
		if st := g.gw.Lifecycle().Stats(); st.Overflowed != 0 || st.Buffered != 0 {
			t.Errorf("gateway stats %+v, want nothing overflowed or left", st)
		}
	}
}

// checkHooksOnceInOrder checks that no event id came twice, that each
// node's events came in the order of their seq, and that each room's
// events alternate occupied and vacated on the shared clock.
func checkHooksOnceInOrder(t *testing.T, got []lifecycle.Event) {
	t.Helper()
	seen := map[string]bool{}
	lastSeq := map[string]uint64{}
	rooms := map[string][]lifecycle.Event{}
	for _, ev := range got {
		if seen[ev.ID] {
			t.Errorf("event %s came twice", ev.ID)
		}
		seen[ev.ID] = true
		if ev.Seq <= lastSeq[ev.Node] {
			t.Errorf("node %s: seq %d came after %d", ev.Node, ev.Seq, lastSeq[ev.Node])
		}
		lastSeq[ev.Node] = ev.Seq
		if ev.Room != "" {
			rooms[ev.Room] = append(rooms[ev.Room], ev)
		}
	}
	for room, evs := range rooms {
		slices.SortFunc(evs, func(a, b lifecycle.Event) int { return a.Time.Compare(b.Time) })
		for i, ev := range evs {
			want := lifecycle.KindRoomOccupied
			if i%2 == 1 {
				want = lifecycle.KindRoomVacated
			}
			if ev.Type != want {
				t.Errorf("room %s: event %d by time is %s, want %s: %s", room, i, ev.Type, want, describeHooks(evs))
			}
		}
	}
}

func TestAReloadThatChangesHooksSaysTheyKeepTheirRunningValueUntilARestart(t *testing.T) {
	parse := func(text string) *gatewayconfig.Config {
		cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(text), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	running := parse(hooksGatewayConfig("http://backend-a/hooks", "", ""))
	tests := []struct {
		name, next string
		warned     bool
	}{
		{"same hooks", hooksGatewayConfig("http://backend-a/hooks", "", ""), false},
		{"another url", hooksGatewayConfig("http://backend-b/hooks", "", ""), true},
		{"hooks removed", withoutServerSection(hooksGatewayConfig("", "", "")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warned := slices.ContainsFunc(restartOnlyChanges(running, parse(tt.next)), func(w string) bool {
				return strings.HasPrefix(w, "server.hooks changed")
			})
			if warned != tt.warned {
				t.Errorf("warned %v, want %v", warned, tt.warned)
			}
		})
	}
}

// withoutServerSection cuts the server section (the hooks) out of text.
func withoutServerSection(text string) string {
	start := strings.Index(text, "server:\n")
	end := strings.Index(text, "auth:\n")
	return text[:start] + text[end:]
}
