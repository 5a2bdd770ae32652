package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// lifecycleLog records which instances of the test plugin types were built
// and closed, and what host each was given.
type lifecycleLog struct {
	mu     sync.Mutex
	built  []string
	closed []string
	hosts  []gatehouse.Host
}

func (l *lifecycleLog) record(list *[]string, what string) {
	l.mu.Lock()
	*list = append(*list, what)
	l.mu.Unlock()
}

func (l *lifecycleLog) counts() (built, closed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.built), len(l.closed)
}

// closingGuard is a guard that lets everything pass and records its Close.
type closingGuard struct {
	log  *lifecycleLog
	name string
}

func (g *closingGuard) Check(context.Context, *guards.Input) error { return nil }
func (g *closingGuard) MayBlock() bool                             { return false }
func (g *closingGuard) Close(context.Context) error {
	g.log.record(&g.log.closed, g.name)
	return nil
}

// closingHandler acks {ok: true} and records its Close.
type closingHandler struct{ log *lifecycleLog }

func (h *closingHandler) Handle(context.Context, *handlers.Call) (any, error) {
	return map[string]any{"ok": true}, nil
}
func (h *closingHandler) MayBlock() bool { return false }
func (h *closingHandler) Close(context.Context) error {
	h.log.record(&h.log.closed, "handler")
	return nil
}

// lifecycleRegistries are the default registries plus the guard
// "closing" (which fails to build with the option fail: true) and the
// handler "closing", recording into l.
func lifecycleRegistries(l *lifecycleLog) Registries {
	gs := guards.NewRegistry()
	for _, name := range guards.Default().Names() {
		f, _ := guards.Default().Lookup(name)
		gs.Register(name, f)
	}
	gs.Register("closing", func(opts gatewayconfig.Options) (guards.Guard, error) {
		var o struct {
			Fail bool `yaml:"fail"`
		}
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		if o.Fail {
			return nil, opts.Errorf("closing: asked to fail")
		}
		l.record(&l.built, opts.Name())
		l.mu.Lock()
		l.hosts = append(l.hosts, opts.Host())
		l.mu.Unlock()
		return &closingGuard{log: l, name: opts.Name()}, nil
	})
	hs := handlers.NewRegistry()
	for _, name := range handlers.Default().Names() {
		f, _ := handlers.Default().Lookup(name)
		hs.Register(name, f)
	}
	hs.Register("closing", func(opts gatewayconfig.Options) (handlers.Handler, error) {
		l.record(&l.built, "handler")
		return &closingHandler{log: l}, nil
	})
	return Registries{Guards: gs, Handlers: hs}
}

const lifecycleConfig = `
server: {listen: "127.0.0.1:0"}
guards:
  first: {closing: {}}
  second: {closing: {fail: %s}}
namespaces:
  /chat:
    auth: none
    events:
      ping:
        guards: [first, second]
        handler: {closing: {}}
`

func lifecycleCfg(t *testing.T, fail bool) *gatewayconfig.Config {
	t.Helper()
	text := strings.Replace(lifecycleConfig, "%s", map[bool]string{true: "true", false: "false"}[fail], 1)
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitClosed waits until n instances were closed.
func waitClosed(t *testing.T, l *lifecycleLog, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, closed := l.counts(); closed == n {
			return
		}
		if time.Now().After(deadline) {
			_, closed := l.counts()
			t.Fatalf("%d instances closed, want %d", closed, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPluginsAreClosedWhenReplacedByAReloadAndAtShutdown(t *testing.T) {
	l := &lifecycleLog{}
	g := startLiveGateway(t, strings.Replace(lifecycleConfig, "%s", "false", 1), lifecycleRegistries(l))
	if built, closed := l.counts(); built != 3 || closed != 0 {
		t.Fatalf("after start: built %d, closed %d; want 3 and 0", built, closed)
	}
	c := g.dial(t, "/chat")
	for i := 1; i <= 3; i++ {
		if _, err := g.gw.Reload(context.Background(), lifecycleCfg(t, false)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		waitClosed(t, l, 3*i)
		// The connection opened before the reloads is served by the new
		// instances, never by closed ones.
		if ack := ackOf(t, c, "/chat", "ping", map[string]any{}); ack["ok"] != true {
			t.Fatalf("after reload %d: ack %v", i, ack)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if err := g.stop(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if built, closed := l.counts(); closed != built || built != 12 {
		t.Fatalf("after shutdown: built %d, closed %d; want 12 of each", built, closed)
	}
}

func TestPluginsBuiltBeforeAFailureAreClosed(t *testing.T) {
	t.Run("reload", func(t *testing.T) {
		l := &lifecycleLog{}
		g := startLiveGateway(t, strings.Replace(lifecycleConfig, "%s", "false", 1), lifecycleRegistries(l))
		// Served before it is stopped: a shutdown before the listener is
		// up would leave Serve running.
		g.dial(t, "/chat")
		_, err := g.gw.Reload(context.Background(), lifecycleCfg(t, true))
		if err == nil || !strings.Contains(err.Error(), "asked to fail") {
			t.Fatalf("reload error = %v, want the guard's", err)
		}
		// Start built 3; the failed reload built "first" and the handler
		// and closes them; the running ones stay open.
		built, closed := l.counts()
		if built != 5 || closed != 2 {
			t.Fatalf("built %d, closed %d; want 5 and 2", built, closed)
		}
	})
	t.Run("build", func(t *testing.T) {
		l := &lifecycleLog{}
		_, err := Build(context.Background(), lifecycleCfg(t, true), Options{Registries: lifecycleRegistries(l)})
		if err == nil {
			t.Fatal("Build succeeded with a failing guard")
		}
		if built, closed := l.counts(); built == 0 || closed != built {
			t.Fatalf("built %d, closed %d; want every built instance closed", built, closed)
		}
	})
}

func TestPluginHostIsScopedToTheInstance(t *testing.T) {
	l := &lifecycleLog{}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	gw, err := Build(context.Background(), lifecycleCfg(t, false), Options{Registries: lifecycleRegistries(l), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.Shutdown(context.Background()) }()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.hosts) != 2 {
		t.Fatalf("%d guard hosts, want 2", len(l.hosts))
	}
	h := l.hosts[0]
	if h.Distributed() || h.Publisher() == nil || h.Metrics() == nil || h.Now().IsZero() {
		t.Errorf("host on the memory adapter: distributed %v, publisher %v, metrics %v", h.Distributed(), h.Publisher(), h.Metrics())
	}
	if err := h.Publisher().Publish(context.Background(), "events", []byte(`{}`)); err != nil {
		t.Errorf("publish on the memory adapter: %v", err)
	}
	l.hosts[1].Logger().Info("opened")
	if got := logs.String(); !strings.Contains(got, "guard=second") || !strings.Contains(got, "config=gateway.yaml:5:") {
		t.Errorf("instance log line = %q, want the guard's name and where it is declared", got)
	}
}

const mayBlockConfig = `
adapter: ADAPTER
namespaces:
  /a:
    auth: none
    events:
      ping:
        handler: {reply: {value: '"pong"'}}
      say:
        handler: {broadcast: {event: said, data: data}}
      tell:
        handler: {publish: {}}
`

func TestOnlyEventsWhoseInstancesMayBlockLeaveTheReadPath(t *testing.T) {
	tests := []struct {
		adapter string
		want    map[string]bool
	}{
		{"{kind: memory}", map[string]bool{"ping": false, "say": false, "tell": false}},
		// Build does not connect: no Redis needs to listen here.
		{`{kind: redis, redis: {url: "redis://127.0.0.1:1/0"}}`, map[string]bool{"ping": false, "say": true, "tell": true}},
	}
	for _, tt := range tests {
		t.Run(tt.adapter, func(t *testing.T) {
			cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(strings.Replace(mayBlockConfig, "ADAPTER", tt.adapter, 1)), nil)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := Build(context.Background(), cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = gw.Shutdown(context.Background()) }()
			ns := gw.state().namespaces["/a"]
			for event, want := range tt.want {
				if got := gw.eventMayBlock(event, eventTarget{st: gw.state(), ns: ns, ev: ns.events[event]}); got != want {
					t.Errorf("%s may block = %v, want %v", event, got, want)
				}
			}
		})
	}
}
