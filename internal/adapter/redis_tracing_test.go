package adapter

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestRedisPublishesAreSpansUnderTheCallersSpan(t *testing.T) {
	srv := startRedis(t)
	recorded := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorded))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	a, err := NewRedis(RedisOptions{URL: srv.url(), Prefix: "test", Tracer: provider.Tracer("test")})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	a.Start(&recorder{})
	defer func() { _ = a.Close() }()
	waitUp(t, a)

	ctx, event := provider.Tracer("test").Start(context.Background(), "event")
	if err := a.Send(ctx, &Message{Kind: KindBroadcast, Namespace: "/chat", Event: "message"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := a.Publish(ctx, "orders", []byte(`{"id":7}`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	event.End()

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range recorded.Ended() {
		spans[s.Name()] = s
	}
	for _, name := range []string{"publish test:cluster", "publish test:publish:orders"} {
		s, ok := spans[name]
		if !ok {
			t.Fatalf("no span %q among %v", name, keys(spans))
		}
		if s.Parent().SpanID() != event.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindProducer {
			t.Errorf("%s: parent %v kind %v, want the event's span and a producer", name, s.Parent().SpanID(), s.SpanKind())
		}
	}
}

func TestRedisWithoutTracerMakesNoSpan(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	waitUp(t, a)
	recorded := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorded))
	ctx, event := provider.Tracer("test").Start(context.Background(), "event")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Publish(ctx, "orders", []byte(`{}`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	event.End()
	if got := len(recorded.Ended()); got != 1 {
		t.Fatalf("spans = %d, want the caller's only", got)
	}
}

func keys(m map[string]sdktrace.ReadOnlySpan) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
