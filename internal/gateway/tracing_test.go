package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// otlpReceiver is an OTLP/HTTP collector in the test process: it decodes
// the protobuf exports the gateway posts to /v1/traces and keeps the spans.
type otlpReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var export coltracepb.ExportTraceServiceRequest
		if err != nil || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &export) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		r.keep(&export)
		answer, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) keep(export *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				r.services = append(r.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
}

// received returns the spans exported so far by name; a name made twice
// keeps the last.
func (r *otlpReceiver) received() map[string]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	byName := make(map[string]*tracepb.Span, len(r.spans))
	for _, s := range r.spans {
		byName[s.GetName()] = s
	}
	return byName
}

// traceBackend is a webhook backend that keeps the traceparent header of
// each call.
type traceBackend struct {
	srv          *httptest.Server
	mu           sync.Mutex
	traceparents []string
}

func startTraceBackend(t *testing.T) *traceBackend {
	t.Helper()
	b := &traceBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.traceparents = append(b.traceparents, r.Header.Get("traceparent"))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"reply": {"ok": true}}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *traceBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.traceparents...)
}

// tracedConfig is a namespace with a connect guard and an event checked by
// a guard and answered by a webhook to backendURL, under server.tracing
// written as tracing (the lines under "tracing:").
func tracedConfig(tracing, backendURL string) string {
	return fmt.Sprintf(`
server:
  tracing:
%s
guards:
  small:
    max_size: {limit: 1KB}
  anyone:
    expr: {condition: 'true'}
namespaces:
  /traced:
    auth: none
    guards: [anyone]
    events:
      ask:
        guards: [small]
        handler:
          webhook: {url: "%s/ask"}
`, tracing, backendURL)
}

// The client's own trace contexts: one sent as a header of its handshake,
// one in its CONNECT auth payload, which wins for the connection.
const (
	headerTraceID = "0af7651916cd43dd8448eb211c80319c"
	headerParent  = "00-" + headerTraceID + "-b7ad6b7169203331-01"
	authTraceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	authSpanID    = "00f067aa0ba902b7"
	authParent    = "00-" + authTraceID + "-" + authSpanID + "-01"
)

// askThroughWebhook connects to /traced as a client that sends its trace
// context in both places, and asks once through the webhook.
func askThroughWebhook(t *testing.T, g *liveGateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.DialHeader(ctx, g.url, http.Header{"Traceparent": {headerParent}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctx, "/traced", map[string]any{"traceparent": authParent}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if ack := ackOf(t, c, "/traced", "ask", map[string]any{"q": 1}); ack["ok"] != true {
		t.Fatalf("ask answered %v, want the backend's reply", ack)
	}
}

func TestOneEventThroughAWebhookIsOneSpanTreeThatTheBackendJoins(t *testing.T) {
	receiver := startOTLPReceiver(t)
	backend := startTraceBackend(t)
	g := startLiveGateway(t, tracedConfig(
		"    enabled: true\n    endpoint: "+receiver.srv.URL+"\n    service_name: edge-test", backend.srv.URL), Registries{})
	askThroughWebhook(t, g)
	// The spans wait in the batch queue (5 s) until the shutdown exports
	// them: a test that ends sooner sees them because Shutdown flushes.
	if err := g.stop(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	spans := receiver.received()

	event := mustSpan(t, spans, "socket.io event ask")
	guard := mustSpan(t, spans, "guard small")
	handler := mustSpan(t, spans, "handler webhook")
	post := mustSpan(t, spans, "POST")
	connect := mustSpan(t, spans, "socket.io connect /traced")
	connectGuard := mustSpan(t, spans, "guard anyone")
	handshake := mustSpan(t, spans, "engine.io handshake")

	// The tree of the event, in the trace the client started at CONNECT.
	wantChild(t, "event of the client's span", event, authTraceID, authSpanID)
	wantChild(t, "guard of the event", guard, authTraceID, hex.EncodeToString(event.GetSpanId()))
	wantChild(t, "handler of the event", handler, authTraceID, hex.EncodeToString(event.GetSpanId()))
	wantChild(t, "webhook call of the handler", post, authTraceID, hex.EncodeToString(handler.GetSpanId()))
	if links := event.GetLinks(); len(links) != 1 || hex.EncodeToString(links[0].GetSpanId()) != hex.EncodeToString(connect.GetSpanId()) {
		t.Errorf("event links = %v, want the CONNECT span", links)
	}
	// CONNECT and its guard; the handshake under the header's context.
	wantChild(t, "connect of the client's span", connect, authTraceID, authSpanID)
	wantChild(t, "connect guard of the connect", connectGuard, authTraceID, hex.EncodeToString(connect.GetSpanId()))
	wantChild(t, "handshake of the header's span", handshake, headerTraceID, "b7ad6b7169203331")

	// The backend saw the trace, with the webhook call as the parent.
	wantParent := "00-" + authTraceID + "-" + hex.EncodeToString(post.GetSpanId()) + "-01"
	if got := backend.seen(); len(got) != 1 || got[0] != wantParent {
		t.Errorf("backend traceparent = %q, want %q", got, wantParent)
	}
	if name := receiver.services[0]; name != "edge-test" {
		t.Errorf("service.name = %q, want edge-test", name)
	}
}

func TestSampleRatioZeroExportsNoSpanYetTellsTheBackendNotToSample(t *testing.T) {
	receiver := startOTLPReceiver(t)
	backend := startTraceBackend(t)
	g := startLiveGateway(t, tracedConfig(
		"    enabled: true\n    endpoint: "+receiver.srv.URL+"\n    sample_ratio: 0", backend.srv.URL), Registries{})
	askThroughWebhook(t, g)
	if err := g.stop(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if spans := receiver.received(); len(spans) != 0 {
		t.Errorf("%d spans exported at ratio 0, want none", len(spans))
	}
	// The client asked for its trace to be sampled; the gateway's ratio
	// decided otherwise, and says so to the backend.
	got := backend.seen()
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+authTraceID+"-") || !strings.HasSuffix(got[0], "-00") {
		t.Errorf("backend traceparent = %q, want the client's trace, not sampled", got)
	}
}

func TestTracingOffMakesNoSpanAndSendsNoTraceparent(t *testing.T) {
	receiver := startOTLPReceiver(t)
	backend := startTraceBackend(t)
	g := startLiveGateway(t, tracedConfig(
		"    enabled: false\n    endpoint: "+receiver.srv.URL, backend.srv.URL), Registries{})
	if g.gw.tracer != nil {
		t.Fatal("a tracer was built with tracing off")
	}
	askThroughWebhook(t, g)
	if err := g.stop(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if spans := receiver.received(); len(spans) != 0 {
		t.Errorf("%d spans exported with tracing off", len(spans))
	}
	if got := backend.seen(); len(got) != 1 || got[0] != "" {
		t.Errorf("backend traceparent = %q, want none", got)
	}
}

func mustSpan(t *testing.T, spans map[string]*tracepb.Span, name string) *tracepb.Span {
	t.Helper()
	s, ok := spans[name]
	if !ok {
		names := make([]string, 0, len(spans))
		for n := range spans {
			names = append(names, n)
		}
		t.Fatalf("no span %q among %q", name, names)
	}
	return s
}

func wantChild(t *testing.T, what string, s *tracepb.Span, traceID, parentID string) {
	t.Helper()
	gotTrace, gotParent := hex.EncodeToString(s.GetTraceId()), hex.EncodeToString(s.GetParentSpanId())
	if gotTrace != traceID || gotParent != parentID {
		t.Errorf("%s: span %q in trace %s under %s, want trace %s under %s", what, s.GetName(), gotTrace, gotParent, traceID, parentID)
	}
}

func TestAClientTraceparentThatIsMalformedOrOversizedIsIgnoredNotRefused(t *testing.T) {
	receiver := startOTLPReceiver(t)
	backend := startTraceBackend(t)
	g := startLiveGateway(t, tracedConfig("    enabled: true\n    endpoint: "+receiver.srv.URL, backend.srv.URL), Registries{})
	cases := []struct {
		name      string
		auth      map[string]any
		header    string
		wantTrace string // "" for a trace of the gateway's own
	}{
		{"malformed in the auth payload, the header's taken", map[string]any{"traceparent": "00-not-a-trace-01"}, headerParent, headerTraceID},
		{"oversized in the auth payload", map[string]any{"traceparent": authParent + strings.Repeat("0", 64<<10)}, "", ""},
		{"not a string in the auth payload", map[string]any{"traceparent": 7}, "", ""},
		{"malformed header", map[string]any{}, "00-" + headerTraceID + "-zz-01", ""},
	}
	sockets := make([]string, len(cases))
	for i, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
		header := http.Header{}
		if tc.header != "" {
			header.Set("Traceparent", tc.header)
		}
		c, err := sioclient.DialHeader(ctx, g.url, header)
		if err != nil {
			t.Fatal(err)
		}
		if sockets[i], err = c.Connect(ctx, "/traced", tc.auth); err != nil {
			t.Fatalf("%s: connect refused: %v", tc.name, err)
		}
		_ = c.Close()
		cancel()
	}
	if err := g.stop(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i, tc := range cases {
		s := receiver.spanOfSocket("socket.io connect /traced", sockets[i])
		if s == nil {
			t.Errorf("%s: no CONNECT span", tc.name)
			continue
		}
		gotTrace := hex.EncodeToString(s.GetTraceId())
		if tc.wantTrace != "" && gotTrace != tc.wantTrace {
			t.Errorf("%s: CONNECT in trace %s, want %s", tc.name, gotTrace, tc.wantTrace)
		}
		if tc.wantTrace == "" && (len(s.GetParentSpanId()) != 0 || gotTrace == authTraceID || gotTrace == headerTraceID) {
			t.Errorf("%s: CONNECT in trace %s under %x, want a trace of the gateway's own", tc.name, gotTrace, s.GetParentSpanId())
		}
	}
}

// spanOfSocket returns the span called name of the socket with id socket,
// or nil.
func (r *otlpReceiver) spanOfSocket(name, socket string) *tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.GetName() != name {
			continue
		}
		for _, kv := range s.GetAttributes() {
			if kv.GetKey() == "socketio.socket_id" && kv.GetValue().GetStringValue() == socket {
				return s
			}
		}
	}
	return nil
}

func TestAReloadThatChangesTracingSaysItWaitsForARestart(t *testing.T) {
	receiver := startOTLPReceiver(t)
	backend := startTraceBackend(t)
	g := startLiveGateway(t, tracedConfig("    enabled: false\n    endpoint: "+receiver.srv.URL, backend.srv.URL), Registries{})
	// Served before it stops: a Shutdown that runs ahead of Serve would
	// leave Serve waiting.
	g.dial(t, "")
	next, err := gatewayconfig.Parse("gateway.yaml",
		[]byte(tracedConfig("    enabled: true\n    endpoint: "+receiver.srv.URL, backend.srv.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := g.gw.Reload(context.Background(), next)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !slices.Contains(warnings, "server.tracing changed, but keeps its running value until a restart") {
		t.Errorf("warnings = %q, want one for server.tracing", warnings)
	}
	if g.gw.tracer != nil {
		t.Error("a reload turned tracing on; it waits for a restart")
	}
}
