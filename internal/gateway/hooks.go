package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Events with a meaning of their own to the gateway.
const (
	eventException    = "exception"
	eventAuthRefresh  = "auth:refresh"
	eventAuthExpiring = "auth:expiring"
)

// hooks is the gateway's side of the Socket.IO server.
type hooks struct {
	gw *Gateway
}

var _ socketio.Hooks = hooks{}

// HasNamespace reports whether the current config declares name.
func (h hooks) HasNamespace(name string) bool {
	_, ok := h.gw.state().namespaces[name]
	return ok
}

// Connect authenticates the socket and runs the namespace's connect guards.
func (h hooks) Connect(ctx context.Context, s *socketio.Socket, auth json.RawMessage) (err error) {
	defer func() {
		if err != nil {
			h.gw.metrics.ConnectRefused(s.Namespace(), string(gatehouse.AsError(err).Code))
		}
	}()
	if err := h.gw.admitConnect(); err != nil {
		return err
	}
	st := h.gw.state()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok {
		return gatehouse.Errorf(gatehouse.CodeForbidden, "namespace %s is not served", s.Namespace())
	}
	claims, err := st.authenticate(ns, s, auth)
	if err != nil {
		h.gw.logger.Debug("connect refused", "namespace", ns.name, "socket", s.ID(), "reason", err)
		return err
	}
	s.SetClaims(claims)
	in := &guards.Input{Socket: s, Namespace: ns.name, Payload: gatehouse.NewPayload(auth)}
	if err := h.gw.runGuards(ctx, ns.connectGuards, in); err != nil {
		h.gw.logger.Debug("connect refused", "namespace", ns.name, "socket", s.ID(), "reason", err)
		return err
	}
	return nil
}

// Connected starts the token lifetime watch and runs on_connect handlers.
func (h hooks) Connected(ctx context.Context, s *socketio.Socket) {
	h.gw.metrics.SocketConnected(s.Namespace())
	st := h.gw.state()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok {
		return
	}
	st.watchExpiry(s)
	call := &handlers.Call{Socket: s, Event: "connect", Payload: gatehouse.NewPayload(nil), Publisher: h.gw.publisher}
	for _, handler := range ns.onConnect {
		if _, err := h.gw.safeHandle(ctx, handler, call); err != nil {
			h.gw.logger.Warn("on_connect handler failed", "namespace", ns.name, "socket", s.ID(), "error", err)
		}
	}
}

// Event hands the event to the socket's serial executor, so that one slow
// handler neither blocks the session's reads nor reorders the socket's
// events; an event that cannot block runs in place when nothing is queued.
func (h hooks) Event(ctx context.Context, s *socketio.Socket, event string, args gatehouse.Args, ack socketio.AckFunc) {
	release := h.gw.admitEvent(s, event, ack)
	if release == nil {
		return
	}
	q, job := serialFor(s), func() { defer release(); h.gw.dispatch(ctx, s, event, args, ack) }
	if !h.gw.eventMayBlock(s, event) && q.runInline(job) {
		return
	}
	if !q.run(job) {
		release()
		h.gw.answer(s, event, ack, nil, errQueueFull)
	}
}

// Disconnected stops the expiry watch and runs on_disconnect handlers.
func (h hooks) Disconnected(s *socketio.Socket, reason string) {
	h.gw.metrics.SocketDisconnected(s.Namespace())
	stopExpiry(s)
	st := h.gw.state()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok || len(ns.onDisconnect) == 0 {
		return
	}
	data, _ := json.Marshal(map[string]string{"reason": reason})
	call := &handlers.Call{Socket: s, Event: "disconnect", Payload: gatehouse.NewPayload(data), Publisher: h.gw.publisher}
	ctx, cancel := context.WithTimeout(context.Background(), h.gw.cfg.Server.ShutdownGrace.D())
	defer cancel()
	for _, handler := range ns.onDisconnect {
		if _, err := h.gw.safeHandle(ctx, handler, call); err != nil {
			h.gw.logger.Warn("on_disconnect handler failed", "namespace", ns.name, "socket", s.ID(), "error", err)
		}
	}
}

// dispatch runs one event through its guard chain and handlers and answers
// with an ack, an error ack or an exception event (contract C2).
func (gw *Gateway) dispatch(ctx context.Context, s *socketio.Socket, event string, args gatehouse.Args, ack socketio.AckFunc) {
	st := gw.state()
	if event == eventAuthRefresh {
		reply, err := st.refreshToken(s, gatehouse.NewPayload(args.First()))
		gw.answer(s, event, ack, reply, err)
		return
	}
	ns, ok := st.namespaces[s.Namespace()]
	if !ok {
		gw.answer(s, event, ack, nil, gatehouse.Errorf(gatehouse.CodeUnknownEvent, "namespace %s is no longer served", s.Namespace()))
		return
	}
	ev, ok := ns.events[event]
	if !ok {
		gw.answer(s, event, ack, nil, gatehouse.Errorf(gatehouse.CodeUnknownEvent, "unknown event %q", event))
		return
	}
	payload := gatehouse.NewPayload(args.First())
	in := &guards.Input{Socket: s, Namespace: ns.name, Event: event, Payload: payload, Args: args}
	if err := gw.runGuards(ctx, ev.guards, in); err != nil {
		gw.answer(s, event, ack, nil, err)
		return
	}
	call := &handlers.Call{Socket: s, Event: event, Payload: payload, Args: args, Publisher: gw.publisher}
	for _, handler := range ev.handlers {
		reply, err := gw.safeHandle(ctx, handler, call)
		if err != nil {
			gw.answer(s, event, ack, nil, err)
			return
		}
		if reply != nil {
			call.Reply = reply
		}
	}
	gw.answer(s, event, ack, call.Reply, nil)
}

// runGuards runs a chain in order; the first denial wins.
func (gw *Gateway) runGuards(ctx context.Context, chain []namedGuard, in *guards.Input) error {
	for _, g := range chain {
		if err := g.guard.Check(ctx, in); err != nil {
			gw.metrics.GuardDenied(g.name, string(gatehouse.AsError(err).Code))
			return fmt.Errorf("guard %q: %w", g.name, err)
		}
	}
	return nil
}

// safeHandle calls a handler, turning a panic into an internal error so that
// one faulty handler never kills the connection or the process.
func (gw *Gateway) safeHandle(ctx context.Context, h namedHandler, call *handlers.Call) (reply any, err error) {
	started := time.Now()
	defer func() {
		gw.metrics.HandlerObserved(call.Socket.Namespace(), call.Event, h.typ, time.Since(started))
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
	coded := gatehouse.AsError(err)
	level := slog.LevelDebug
	if coded.Code == gatehouse.CodeInternal {
		level = slog.LevelError
	}
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
