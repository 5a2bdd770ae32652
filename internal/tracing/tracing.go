// Package tracing makes the gateway's OpenTelemetry spans and sends them to
// an OTLP/HTTP collector: the Engine.IO handshake, each namespace CONNECT
// with its guards, each event with its guards and handlers, and the
// adapter's messages to the cluster. It also reads the W3C trace context a
// client may send (the traceparent header of its first request, or the
// traceparent member of its CONNECT auth payload).
//
// The package knows nothing of sockets or packets: the gateway hands it
// names and strings. When tracing is off the gateway holds no Tracer at all
// and calls nothing here, so that off costs nothing on the event path.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names the gateway's tracer in the spans it makes.
const InstrumentationName = "github.com/gatehouse-dev/gatehouse"

// tracesPath is the OTLP/HTTP path of traces, used when the endpoint URL
// names none.
const tracesPath = "/v1/traces"

// The bounds of what waits for the collector. They are set here rather
// than left to the SDK, whose defaults the OTEL_BSP_* environment
// variables change: at about 1.2 KiB a span, the queue holds under 3 MiB
// however many events arrive while the collector is slow or down, and
// what does not fit is dropped.
const (
	// MaxQueuedSpans is how many ended spans wait to be exported.
	MaxQueuedSpans = 2048
	// MaxExportBatch is how many spans one export sends.
	MaxExportBatch = 512
)

// Options say where spans go and how many are kept.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP URL, http:// or https://; the
	// path defaults to /v1/traces.
	Endpoint string
	// Headers are sent with every export, such as a vendor's API key.
	Headers map[string]string
	// SampleRatio is the share of traces kept, from 0 (none) to 1 (all).
	SampleRatio float64
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// Logger receives the export failures; nil discards them.
	Logger *slog.Logger
}

// Tracer makes the gateway's spans. Its methods are safe for concurrent use.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// New returns a Tracer exporting to o.Endpoint in batches. Exports run in
// the background: a slow or absent collector never holds an event, and
// spans beyond the batch queue are dropped rather than kept.
func New(o Options) (*Tracer, error) {
	endpoint, err := EndpointURL(o.Endpoint)
	if err != nil {
		return nil, err
	}
	exporter, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHeaders(o.Headers))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	logged := &loggedExporter{SpanExporter: exporter, logger: o.Logger}
	batches := sdktrace.NewBatchSpanProcessor(logged,
		sdktrace.WithMaxQueueSize(MaxQueuedSpans), sdktrace.WithMaxExportBatchSize(MaxExportBatch))
	return NewWithProcessor(o, batches), nil
}

// NewWithProcessor returns a Tracer handing its spans to processor instead
// of an OTLP exporter, with o's sampling and service name: for tests, with
// the SDK's tracetest.SpanRecorder.
func NewWithProcessor(o Options, processor sdktrace.SpanProcessor) *Tracer {
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(processor),
		sdktrace.WithSampler(Sampler(o.SampleRatio)),
		sdktrace.WithResource(serviceResource(o.ServiceName)),
	)
	return &Tracer{provider: provider, tracer: provider.Tracer(InstrumentationName)}
}

// EndpointURL checks a collector URL and gives it the OTLP traces path when
// it has none.
func EndpointURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("tracing: endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("tracing: endpoint %q: want an http:// or https:// URL with a host, such as http://localhost:4318", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String(), nil
}

// Sampler keeps ratio of the traces that start at the gateway. A trace the
// client started (its traceparent) is sampled by the same ratio whatever
// the client's sampled flag says, so that no client decides how much the
// gateway exports; spans under the gateway's own spans follow their parent.
func Sampler(ratio float64) sdktrace.Sampler {
	root := sdktrace.TraceIDRatioBased(ratio)
	return sdktrace.ParentBased(root,
		sdktrace.WithRemoteParentSampled(root), sdktrace.WithRemoteParentNotSampled(root))
}

// serviceResource is the SDK's default resource (which reads
// OTEL_RESOURCE_ATTRIBUTES) with service.name set.
func serviceResource(name string) *resource.Resource {
	if name == "" {
		name = "gatehouse"
	}
	named := resource.NewSchemaless(attribute.String("service.name", name))
	merged, err := resource.Merge(resource.Default(), named)
	if err != nil {
		// Only conflicting schema URLs fail a merge; the name matters more.
		return named
	}
	return merged
}

// Provider is the tracer provider behind the gateway's spans.
func (t *Tracer) Provider() trace.TracerProvider { return t.provider }

// Tracer is the gateway's own tracer, for parts that make spans themselves
// (the cluster adapter).
func (t *Tracer) Tracer() trace.Tracer { return t.tracer }

// Shutdown exports the spans still queued and stops the exporter; spans
// ended later are dropped. It returns when done or when ctx ends.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// loggedExporter logs failed exports once per outage, instead of the
// OpenTelemetry global error handler, which writes to stderr.
type loggedExporter struct {
	sdktrace.SpanExporter
	logger  *slog.Logger
	failing atomic.Bool
}

// ExportSpans exports spans and logs when exports start or stop failing.
// A failure is not returned: the batch is dropped either way, and the
// SDK would hand it to the global error handler.
func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if e.logger == nil {
		return nil
	}
	switch {
	case err != nil && !e.failing.Swap(true):
		e.logger.Warn("tracing: spans not exported; dropping them until the collector answers",
			"spans", len(spans), "error", err)
	case err == nil && e.failing.Swap(false):
		e.logger.Info("tracing: spans exported again")
	case err != nil:
		e.logger.Debug("tracing: spans not exported", "spans", len(spans), "error", err)
	}
	return nil
}

// Shutdown stops the exporter; a collector gone by then is not an error
// worth failing a shutdown for, but is reported.
func (e *loggedExporter) Shutdown(ctx context.Context) error {
	err := e.SpanExporter.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// traceContext is the W3C Trace Context format, the only one read from
// clients and written to backends.
var traceContext propagation.TraceContext

// ClientParent returns the span context a client sent as W3C traceparent
// (with tracestate), or an invalid one when traceparent is empty or not
// well formed. A malformed value is ignored rather than refused: tracing
// never changes what a client may do.
func ClientParent(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		carrier["tracestate"] = tracestate
	}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), carrier))
}
