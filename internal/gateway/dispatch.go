package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// eventTarget is what an event resolves to under one config: its
// namespace and declared event, either nil when not served.
type eventTarget struct {
	st *state
	ns *namespaceRuntime
	ev *eventRuntime
}

// resolve looks up event for s in the current config, counting the event
// as a user of that config's state until the caller calls t.release (the
// state's guards and handlers stay open until then, see retire).
func (gw *Gateway) resolve(s *socketio.Socket, event string) eventTarget {
	st := gw.useState()
	t := eventTarget{st: st}
	if t.ns = st.namespaces[s.Namespace()]; t.ns != nil {
		t.ev = t.ns.events[event]
	}
	return t
}

// release ends the event's use of the state it was looked up in.
func (t eventTarget) release() { t.st.users.release() }

// eventCall is the per-event state that guards and handlers share, in one
// allocation: the payload they decode at most once, the guards' input and
// the handlers' call. It is not reused: a guard or handler may keep what
// it was given.
type eventCall struct {
	payload gatehouse.Payload
	in      guards.Input
	call    handlers.Call
}

// dispatch runs one event through its guard chain and handlers and answers
// with an ack, an error ack or an exception event (contract C2).
func (gw *Gateway) dispatch(ctx context.Context, s *socketio.Socket, event string, args gatehouse.Args, ack socketio.AckFunc) {
	t := gw.resolve(s, event)
	defer t.release()
	gw.dispatchTo(ctx, s, t, event, args, ack)
}

// dispatchTo is dispatch with the event already looked up.
func (gw *Gateway) dispatchTo(ctx context.Context, s *socketio.Socket, t eventTarget, event string, args gatehouse.Args, ack socketio.AckFunc) {
	gw.dispatchFrom(ctx, s, t, 0, event, args, ack)
}

// dispatchParked runs an event that waited in the socket's queue, looked up
// again under the config current now. When that is still the config it was
// parked under, the passed guards that already let it through (see park)
// are not run again: a rate limit would count the event twice. The caller
// still holds parked's state; the one looked up now is held here.
func (gw *Gateway) dispatchParked(ctx context.Context, s *socketio.Socket, parked eventTarget, passed int, event string, args gatehouse.Args, ack socketio.AckFunc) {
	t := gw.resolve(s, event)
	defer t.release()
	if t.ev == nil || t.ev != parked.ev {
		passed = 0
	}
	gw.dispatchFrom(ctx, s, t, passed, event, args, ack)
}

// dispatchFrom is dispatchTo with the event's guards before firstGuard
// already passed.
func (gw *Gateway) dispatchFrom(ctx context.Context, s *socketio.Socket, t eventTarget, firstGuard int, event string, args gatehouse.Args, ack socketio.AckFunc) {
	reply, err := gw.runEvent(ctx, s, t, firstGuard, event, args)
	gw.answerEvent(s, t, event, ack, reply, err)
	if gw.tracer != nil {
		gw.endEventSpan(ctx, err)
	}
}

// runEvent runs the event's guards from firstGuard on and its handlers,
// and returns its outcome: the reply, or the refusal.
func (gw *Gateway) runEvent(ctx context.Context, s *socketio.Socket, t eventTarget, firstGuard int, event string, args gatehouse.Args) (any, error) {
	if event == eventAuthRefresh {
		reply, err := t.st.refreshToken(s, gatehouse.NewPayload(args.First()))
		return reply, err
	}
	if t.ns == nil {
		return nil, gatehouse.Errorf(gatehouse.CodeUnknownEvent, "namespace %s is no longer served", s.Namespace())
	}
	ev := t.ev
	if ev == nil {
		return nil, gatehouse.Errorf(gatehouse.CodeUnknownEvent, "unknown event %q", socketio.ClipName(event))
	}
	ec := &eventCall{}
	ec.payload.Reset(args.First())
	ec.in = guards.Input{Socket: s, Namespace: t.ns.name, Event: event, Payload: &ec.payload, Args: args}
	if err := gw.runGuards(ctx, ev.guards[firstGuard:], &ec.in); err != nil {
		return nil, err
	}
	call := &ec.call
	*call = handlers.Call{Socket: s, Event: event, Payload: &ec.payload, Args: args}
	counters := gw.eventCounters(t)
	for i, handler := range ev.handlers {
		var observe prometheus.Observer
		if counters != nil {
			observe = counters.handlers[i]
		}
		reply, err := gw.callHandler(ctx, handler, call, observe)
		if err != nil {
			return nil, err
		}
		if reply != nil {
			if i+1 < len(ev.handlers) {
				// Expressions give read-only values that may share the
				// claims or the payload (see expr.Program.Eval); the next
				// handler gets a copy it is free to change.
				reply = copyPlainJSON(reply)
			}
			call.Reply = reply
		}
	}
	return call.Reply, nil
}

// runGuards runs a chain in order; the first denial wins.
func (gw *Gateway) runGuards(ctx context.Context, chain []namedGuard, in *guards.Input) error {
	for _, g := range chain {
		if err := gw.checkGuard(ctx, g, in); err != nil {
			gw.metrics.GuardDenied(g.name, string(gatehouse.AsError(err).Code))
			return &guardRefusal{guard: g.name, err: err}
		}
	}
	return nil
}

// safeHandle calls a handler, turning a panic into an internal error so that
// one faulty handler never kills the connection or the process.
func (gw *Gateway) safeHandle(ctx context.Context, h namedHandler, call *handlers.Call) (reply any, err error) {
	var observe prometheus.Observer
	if gw.metrics != nil {
		observe = gw.metrics.HandlerObserver(call.Socket.Namespace(), call.Event, h.typ)
	}
	return gw.safeHandleObserved(ctx, h, call, observe)
}

// safeHandleObserved is safeHandle recording the handler's duration in
// seconds with observe; without one, the clock is not read.
func (gw *Gateway) safeHandleObserved(ctx context.Context, h namedHandler, call *handlers.Call, observe prometheus.Observer) (reply any, err error) {
	var started time.Time
	if observe != nil {
		started = time.Now()
	}
	defer func() {
		if observe != nil {
			observe.Observe(time.Since(started).Seconds())
		}
		if r := recover(); r != nil {
			gw.logger.Error("handler panicked", "namespace", call.Socket.Namespace(), "event", call.Event,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			reply, err = nil, gatehouse.Errorf(gatehouse.CodeInternal, "internal error")
		}
	}()
	return h.handler.Handle(ctx, call)
}

// answer sends the outcome of an event: the reply as the ack, or a refusal
// as an error ack when an ack was asked for and as an exception event
// otherwise.
func (gw *Gateway) answer(s gatehouse.Socket, event string, ack socketio.AckFunc, reply any, err error) {
	gw.countEvent(s.Namespace(), event, err)
	gw.send(s, event, ack, reply, err)
}

// answerEvent is answer for a declared event, counted without looking it
// up again.
func (gw *Gateway) answerEvent(s gatehouse.Socket, t eventTarget, event string, ack socketio.AckFunc, reply any, err error) {
	if counters := gw.eventCounters(t); counters != nil && err == nil {
		counters.ok.Inc()
	} else {
		gw.countEvent(s.Namespace(), event, err)
	}
	gw.send(s, event, ack, reply, err)
}

// send delivers an outcome already counted.
func (gw *Gateway) send(s gatehouse.Socket, event string, ack socketio.AckFunc, reply any, err error) {
	if err == nil {
		if ack == nil {
			return
		}
		if reply == nil {
			ack()
			return
		}
		ack(reply)
		return
	}
	gw.noteRefusal(admin.StageEvent, s.Namespace(), event, s.RemoteIP(), err)
	coded := gatehouse.AsError(err)
	level := slog.LevelDebug
	if coded.Code == gatehouse.CodeInternal {
		level = slog.LevelError
	}
	// The event name is the client's: repeated cut short, in the log as
	// to the client.
	event = socketio.ClipName(event)
	gw.logger.Log(context.Background(), level, "event refused", "namespace", s.Namespace(), "event", event,
		"socket", s.ID(), "code", coded.Code, "error", err)
	if ack != nil {
		ack(map[string]any{"error": coded.Fields()})
		return
	}
	fields := coded.Fields()
	fields["status"] = "error"
	fields["event"] = event
	if emitErr := s.Emit(eventException, fields); emitErr != nil {
		gw.logger.Debug("exception not delivered", "socket", s.ID(), "error", emitErr)
	}
}

// copyPlainJSON copies the maps and slices of a value made of decoded JSON
// (map[string]any, []any and what they hold), so that changing the copy
// changes nothing else. Other values, such as a plugin's own types, are
// the plugin's to share and are returned as they are.
func copyPlainJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for key, elem := range v {
			out[key] = copyPlainJSON(elem)
		}
		return out
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, elem := range v {
			out[i] = copyPlainJSON(elem)
		}
		return out
	}
	return v
}
