package tracing

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse"
)

// Attribute keys of the gateway's spans. The messaging.* and http.*
// ones are OpenTelemetry's semantic conventions; the others are the
// gateway's own.
const (
	attrNamespace  = "socketio.namespace"
	attrEvent      = "socketio.event"
	attrSocket     = "socketio.socket_id"
	attrTransport  = "engineio.transport"
	attrClientAddr = "client.address"
	attrGuard      = "gatehouse.guard"
	attrHandler    = "gatehouse.handler"
	attrCode       = "gatehouse.code"
	attrStatus     = "http.response.status_code"
)

// Socket names the socket a span is about.
type Socket struct {
	Namespace string
	ID        string
}

func (s Socket) attributes() []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String(attrNamespace, s.Namespace), attribute.String(attrSocket, s.ID)}
}

// StartHandshake starts the span of an Engine.IO handshake request, under
// the client's traceparent when it sent one.
func (t *Tracer) StartHandshake(ctx context.Context, client trace.SpanContext, transport, clientAddr string) (context.Context, trace.Span) {
	if client.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, client)
	}
	return t.tracer.Start(ctx, "engine.io handshake", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(attrTransport, transport), attribute.String(attrClientAddr, clientAddr)))
}

// EndHandshake ends a handshake span with the HTTP status answered.
func EndHandshake(span trace.Span, status int) {
	span.SetAttributes(attribute.Int(attrStatus, status))
	if status >= 500 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(status))
	}
	span.End()
}

// StartConnect starts the span of a namespace CONNECT: its authentication,
// connect guards and the answer. It is a child of the trace context the
// client sent, or the root of a trace of its own.
func (t *Tracer) StartConnect(ctx context.Context, client trace.SpanContext, s Socket) (context.Context, trace.Span) {
	if client.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, client)
	}
	return t.tracer.Start(ctx, "socket.io connect "+s.Namespace, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(s.attributes()...))
}

// StartEvent starts the span of one event, from its arrival to its answer:
// the span is called after name, and event is the name the client sent.
// A socket's events are not children of its CONNECT, whose trace would
// then last as long as the connection: each event is the root of a trace
// of its own (or a child of the trace context the client sent at
// connection), linked to the CONNECT span.
func (t *Tracer) StartEvent(ctx context.Context, client, connect trace.SpanContext, s Socket, name, event string) (context.Context, trace.Span) {
	if client.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, client)
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(append(s.attributes(), attribute.String(attrEvent, event))...),
	}
	if connect.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: connect}))
	}
	return t.tracer.Start(ctx, "socket.io event "+name, opts...)
}

// StartGuard starts the span of one guard's check.
func (t *Tracer) StartGuard(ctx context.Context, name string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "guard "+name, trace.WithAttributes(attribute.String(attrGuard, name)))
}

// StartHandler starts the span of one handler's call.
func (t *Tracer) StartHandler(ctx context.Context, typ string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "handler "+typ, trace.WithAttributes(attribute.String(attrHandler, typ)))
}

// End ends span with the outcome err: a refusal's C2 code as an attribute,
// and an error status for the codes that say the gateway or a backend
// failed. A refusal of the client's request (forbidden, rate_limited,
// invalid_payload, ...) is the gateway doing its job, not an error of the
// span, as OpenTelemetry's HTTP conventions treat a 4xx on the server side.
func End(span trace.Span, err error) {
	if err != nil {
		coded := gatehouse.AsError(err)
		span.SetAttributes(attribute.String(attrCode, string(coded.Code)))
		if serverSide(coded.Code) {
			span.SetStatus(codes.Error, coded.Message)
		}
	}
	span.End()
}

// serverSide reports whether a C2 code says the gateway or a backend
// failed rather than the client's request was refused.
func serverSide(code gatehouse.Code) bool {
	switch code {
	case gatehouse.CodeInternal, gatehouse.CodeUpstreamError, gatehouse.CodeUpstreamTimeout:
		return true
	}
	return false
}
