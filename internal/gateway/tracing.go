package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
	"github.com/gatehouse-dev/gatehouse/internal/tracing"
)

// The gateway's spans (server.tracing): every function here is called only
// when gw.tracer is set, behind one nil check on the paths that serve
// clients, so that tracing off costs no allocation and no span.
//
// A span's context reaches guards and handlers as the ctx of their call,
// which is how a plugin adds spans of its own under the gateway's
// (trace.SpanFromContext(ctx).TracerProvider()), and how the webhook
// handler passes traceparent on to its backend.

// clientTraceKey is the member of a CONNECT auth payload, and the header of
// a handshake request, that carry a client's W3C trace context.
const (
	clientTraceKey      = "traceparent"
	clientTraceStateKey = "tracestate"
	// maxClientTraceBytes bounds the JSON string read as a traceparent or
	// tracestate from an auth payload: a W3C traceparent is 55 bytes and a
	// tracestate at most 512, and nothing longer is decoded.
	maxClientTraceBytes = 1024
)

// socketTrace is what a socket's event spans need from its CONNECT: the
// trace context the client sent (their parent) and the CONNECT span (their
// link). Kept only while tracing is on.
type socketTrace struct {
	client  trace.SpanContext
	connect trace.SpanContext
}

// newTracer builds the tracer of server.tracing; nil when it is off.
func newTracer(cfg gatewayconfig.Tracing, logger *slog.Logger) (*tracing.Tracer, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	return tracing.New(tracing.Options{
		Endpoint: cfg.Endpoint, Headers: cfg.Headers, SampleRatio: cfg.SampleRatio,
		ServiceName: cfg.ServiceName, Logger: logger,
	})
}

// otelTracer is the tracer the adapter makes its spans with, nil when
// tracing is off.
func otelTracer(t *tracing.Tracer) trace.Tracer {
	if t == nil {
		return nil
	}
	return t.Tracer()
}

// traceHandshakes makes a span of each Engine.IO handshake request (one
// without a sid), under the traceparent header the client sent, if any.
// It runs ahead of the upgrade-time token check, which its span covers.
func (gw *Gateway) traceHandshakes(c *fiber.Ctx) error {
	query := c.Context().QueryArgs()
	if query.Has("sid") {
		return c.Next()
	}
	header := &c.Request().Header
	client := tracing.ClientParent(string(header.Peek(clientTraceKey)), string(header.Peek(clientTraceStateKey)))
	_, span := gw.tracer.StartHandshake(c.UserContext(), client, string(query.Peek("transport")), c.IP())
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = fiber.StatusInternalServerError
		if fe := (*fiber.Error)(nil); errors.As(err, &fe) {
			status = fe.Code
		}
	}
	tracing.EndHandshake(span, status)
	return err
}

// traceConnect starts the span of s's CONNECT, which the caller ends with
// its outcome, and keeps what the socket's event spans need.
func (gw *Gateway) traceConnect(ctx context.Context, s *socketio.Socket, auth json.RawMessage) (context.Context, func(error)) {
	client := clientTraceOf(s, auth)
	ctx, span := gw.tracer.StartConnect(ctx, client, spanSocket(s))
	loadOrCreate(&stateOf(s).connect).trace.Store(&socketTrace{client: client, connect: span.SpanContext()})
	return ctx, func(err error) { tracing.End(span, err) }
}

// clientTraceOf is the trace context the client sent for the connection:
// the traceparent member of its CONNECT auth payload (as a browser sets
// it, io(url, {auth: {traceparent}}), where it cannot set headers on a
// WebSocket), else the traceparent header of its handshake request.
func clientTraceOf(s *socketio.Socket, auth json.RawMessage) trace.SpanContext {
	if parent, ok := authString(auth, clientTraceKey); ok {
		state, _ := authString(auth, clientTraceStateKey)
		if sc := tracing.ClientParent(parent, state); sc.IsValid() {
			return sc
		}
	}
	return tracing.ClientParent(s.Header(clientTraceKey), s.Header(clientTraceStateKey))
}

// authString returns the string member key of a CONNECT auth payload, when
// it is one of a sensible length.
func authString(auth json.RawMessage, key string) (string, bool) {
	raw, ok := socketio.ObjectMember(auth, key)
	if !ok || len(raw) > maxClientTraceBytes {
		return "", false
	}
	var value string
	if json.Unmarshal(raw, &value) != nil {
		return "", false
	}
	return value, true
}

// traceEvent starts the span of one event, which dispatchFrom (or the
// refusal that stops the event before it) ends with endEventSpan. A span
// is named after the event when the namespace declares it, and otherwise
// "unknown", so that clients cannot fill a tracing backend with names.
func (gw *Gateway) traceEvent(ctx context.Context, s *socketio.Socket, t eventTarget, event string) context.Context {
	var kept socketTrace
	if cs := keptStateOf(s); cs != nil {
		if c := cs.connect.Load(); c != nil {
			if st := c.trace.Load(); st != nil {
				kept = *st
			}
		}
	}
	name := "unknown"
	if t.ev != nil || event == eventAuthRefresh {
		name = event
	}
	ctx, _ = gw.tracer.StartEvent(ctx, kept.client, kept.connect, spanSocket(s), name, socketio.ClipName(event))
	return ctx
}

// endEventSpan ends the event span that traceEvent put in ctx, with the
// event's outcome.
func (gw *Gateway) endEventSpan(ctx context.Context, err error) {
	if gw.tracer != nil {
		tracing.End(trace.SpanFromContext(ctx), err)
	}
}

// checkGuard runs one guard, in a span of its own when tracing is on.
func (gw *Gateway) checkGuard(ctx context.Context, g namedGuard, in *guards.Input) error {
	if gw.tracer == nil {
		return g.guard.Check(ctx, in)
	}
	ctx, span := gw.tracer.StartGuard(ctx, g.name)
	err := g.guard.Check(ctx, in)
	tracing.End(span, err)
	return err
}

// callHandler runs one handler of an event, in a span of its own when
// tracing is on.
func (gw *Gateway) callHandler(ctx context.Context, h namedHandler, call *handlers.Call, observe prometheus.Observer) (any, error) {
	if gw.tracer == nil {
		return gw.safeHandleObserved(ctx, h, call, observe)
	}
	ctx, span := gw.tracer.StartHandler(ctx, h.typ)
	reply, err := gw.safeHandleObserved(ctx, h, call, observe)
	tracing.End(span, err)
	return reply, err
}

// spanSocket names s for its spans.
func spanSocket(s *socketio.Socket) tracing.Socket {
	return tracing.Socket{Namespace: s.Namespace(), ID: s.ID()}
}

// tracerFlushGrace bounds the export of the spans still queued at
// shutdown. It is a time of its own, not what is left of the shutdown's:
// the drain may have used all of that, and its spans are the ones an
// operator looks for.
const tracerFlushGrace = 5 * time.Second

// shutdownTracer exports the spans still queued; last, after everything
// that makes spans has stopped.
func (gw *Gateway) shutdownTracer(ctx context.Context) error {
	if gw.tracer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracerFlushGrace)
	defer cancel()
	return gw.tracer.Shutdown(ctx)
}
