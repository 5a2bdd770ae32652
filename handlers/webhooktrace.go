package handlers

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The webhook's part of a trace, written with OpenTelemetry's API alone, as
// a plugin would: the gateway hands each handler's call a ctx carrying the
// handler's span when server.tracing is on, and a span carries the tracer
// provider that children are made with.

// webhookTracerName names the tracer of the webhook's spans.
const webhookTracerName = "github.com/gatehouse-dev/gatehouse/handlers"

// startWebhookSpan starts the client span of one POST to target under the
// span of ctx. Without a recording span in ctx (tracing off, or the trace
// not sampled) it makes none and returns a span that does nothing.
func startWebhookSpan(ctx context.Context, target string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	attrs := []attribute.KeyValue{attribute.String("http.request.method", http.MethodPost)}
	if u, err := url.Parse(target); err == nil {
		// Without the query or credentials, which may hold a secret.
		attrs = append(attrs, attribute.String("server.address", u.Hostname()),
			attribute.String("url.full", u.Scheme+"://"+u.Host+u.EscapedPath()))
	}
	return parent.TracerProvider().Tracer(webhookTracerName).Start(ctx, "POST",
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// propagateTrace writes the W3C trace context of ctx (traceparent and
// tracestate) into header, so that the backend's own spans join the
// event's trace; it writes nothing when ctx carries none. An unsampled
// context is passed on too, so that the backend does not sample what the
// gateway did not.
func propagateTrace(ctx context.Context, header http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(header))
	}
}

// endWebhookSpan ends a webhook span with the status the backend answered
// (0 when it did not) and the call's error.
func endWebhookSpan(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		return
	}
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
