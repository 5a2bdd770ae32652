package gateway

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// summary is what a config declares, without positions and comments.
type summary struct {
	Server     gatewayconfig.Server
	Auth       gatewayconfig.Auth
	JWT        gatewayconfig.JWT
	Guards     map[string]any
	Namespaces map[string]any
}

func summarize(t *testing.T, cfg *gatewayconfig.Config) summary {
	t.Helper()
	options := func(o gatewayconfig.Options) any {
		var v any
		if err := o.Decode(&v); err != nil {
			t.Fatalf("decode options at %s: %v", o.Pos(), err)
		}
		return v
	}
	refs := func(rs []gatewayconfig.Ref) []string {
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.Name
		}
		return names
	}
	handlerList := func(hs []gatewayconfig.HandlerDecl) []any {
		out := make([]any, len(hs))
		for i, h := range hs {
			out[i] = map[string]any{h.Type: options(h.Options)}
		}
		return out
	}
	s := summary{Server: cfg.Server, Auth: cfg.Auth, Guards: map[string]any{}, Namespaces: map[string]any{}}
	if cfg.Auth.JWT != nil {
		s.JWT = *cfg.Auth.JWT
		s.Auth.JWT = nil
	}
	for _, g := range cfg.Guards {
		s.Guards[g.Name] = map[string]any{g.Type: options(g.Options)}
	}
	for _, ns := range cfg.Namespaces {
		events := map[string]any{}
		for _, ev := range ns.Events {
			events[ev.Name] = map[string]any{"guards": refs(ev.Guards), "handlers": handlerList(ev.Handlers)}
		}
		s.Namespaces[ns.Name] = map[string]any{
			"auth": ns.Auth, "guards": refs(ns.Guards), "events": events,
			"on_connect": handlerList(ns.OnConnect), "on_disconnect": handlerList(ns.OnDisconnect),
		}
	}
	return s
}

func TestChatExampleDeclaresExactlyTheDefaultGateway(t *testing.T) {
	t.Setenv("JWT_SECRET", "example-secret")
	// With the playground on, so that its settings are compared too.
	t.Setenv("GATEHOUSE_PLAYGROUND", "true")
	root, err := gatewayconfig.Load("../../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := gatewayconfig.Load("../../examples/chat/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, want := summarize(t, example), summarize(t, root)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("examples/chat/gateway.yaml has drifted from gateway.yaml:\nexample: %+v\ndefault: %+v", got, want)
	}
	if len(want.Namespaces) == 0 || len(want.Guards) == 0 {
		t.Fatal("the default gateway declares no namespace or no guard; the comparison proves nothing")
	}
}

func TestClusterExampleIsTheDefaultChatOnRedis(t *testing.T) {
	t.Setenv("JWT_SECRET", "example-secret")
	t.Setenv("GATEHOUSE_PLAYGROUND", "true")
	t.Setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
	t.Setenv("API_KEY", "example-key")
	root, err := gatewayconfig.Load("../../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := gatewayconfig.Load("../../examples/cluster/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cluster.Adapter.Kind != "redis" || cluster.Adapter.Redis == nil || cluster.Adapter.Redis.URL == "" {
		t.Fatalf("the cluster example does not use the redis adapter: %+v", cluster.Adapter)
	}
	got, want := summarize(t, cluster), summarize(t, root)
	// What may differ: rate limits kept in Redis, so that they hold across
	// nodes. Everything else is the chat of the default gateway.
	for name, g := range got.Guards {
		if rl, ok := g.(map[string]any)["rate_limit"].(map[string]any); ok {
			if rl["store"] != "redis" {
				t.Errorf("guard %q: rate limit store %v, want redis in a cluster", name, rl["store"])
			}
			delete(rl, "store")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("examples/cluster/gateway.yaml has drifted from gateway.yaml:\ncluster: %+v\ndefault: %+v", got, want)
	}
}

func TestConformanceExampleIsTheServerOfTheProtocolSuite(t *testing.T) {
	cfg, err := gatewayconfig.Load("../../examples/conformance/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// What `gatehouse validate` builds: every expression and handler.
	if _, err := Build(context.Background(), cfg, Options{}); err != nil {
		t.Fatalf("the example does not build: %v", err)
	}
	// The settings the suite's README asks for and its handshake checks.
	s := cfg.Server
	if s.PingInterval.D() != 300*time.Millisecond || s.PingTimeout.D() != 200*time.Millisecond ||
		s.MaxPayload != 1_000_000 || s.Limits.ConnectTimeout.D() != time.Second {
		t.Fatalf("server = ping %s/%s, max_payload %d, connect_timeout %s; want 300ms/200ms, 1000000, 1s",
			s.PingInterval.D(), s.PingTimeout.D(), s.MaxPayload, s.Limits.ConnectTimeout.D())
	}
	if cfg.Auth.JWT != nil {
		t.Fatal("the suite connects without tokens; the example must not require them")
	}
	namespaces := summarize(t, cfg).Namespaces
	for _, name := range []string{"/", "/custom"} {
		ns, ok := namespaces[name].(map[string]any)
		if !ok {
			t.Fatalf("namespace %s is missing", name)
		}
		events := ns["events"].(map[string]any)
		for _, event := range []string{"message", "message-with-ack"} {
			if _, ok := events[event]; !ok {
				t.Errorf("namespace %s does not serve %q", name, event)
			}
		}
		if len(ns["on_connect"].([]any)) != 1 {
			t.Errorf("namespace %s does not send the auth event on connection", name)
		}
	}
}
