package gateway

import (
	"context"
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Events with a meaning of their own to the gateway, declared with the
// other reserved names.
const (
	eventException    = reserved.Exception
	eventAuthRefresh  = reserved.AuthRefresh
	eventAuthExpiring = reserved.AuthExpiring
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
	if h.gw.tracer != nil {
		var endSpan func(error)
		ctx, endSpan = h.gw.traceConnect(ctx, s, auth)
		defer func() { endSpan(err) }()
	}
	defer func() {
		if err != nil {
			h.gw.metrics.ConnectRefused(s.Namespace(), string(gatehouse.AsError(err).Code))
			h.gw.noteRefusal(admin.StageConnect, s.Namespace(), "", s.RemoteIP(), err)
		}
	}()
	if err := h.gw.admitConnect(); err != nil {
		return err
	}
	st := h.gw.useState()
	defer st.users.release()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok {
		return gatehouse.Errorf(gatehouse.CodeForbidden, "namespace %s is not served", s.Namespace())
	}
	claims, text, err := st.authenticate(ns, s, auth)
	if err == nil && ns.authorizer != nil {
		// The authorizer is given the token's claims decoded, and its
		// answer stands for them.
		if text != nil {
			claims, text = socketio.DecodeClaims(text), nil
		}
		claims, err = h.gw.authorize(ctx, st, ns, s, auth, claims)
	}
	if err != nil {
		h.gw.logger.Debug("connect refused", "namespace", ns.name, "socket", s.ID(), "reason", err)
		return err
	}
	setClaims(s, claims, text)
	// Before the connect guards, so that a user at the cap makes none of
	// them call out; a guard's refusal gives the place back.
	if err := h.gw.takeConnSlots(ctx, st, ns, s); err != nil {
		h.gw.logger.Debug("connect refused", "namespace", ns.name, "socket", s.ID(), "reason", err)
		return err
	}
	var view *gatehouse.Payload
	if len(ns.connectGuards) > 0 || len(ns.onConnect) > 0 {
		view = st.handshakeAuth(auth)
	}
	in := &guards.Input{Socket: s, Namespace: ns.name, Payload: gatehouse.NewPayload(auth), Auth: view}
	if err := h.gw.runGuards(ctx, ns.connectGuards, in); err != nil {
		h.gw.logger.Debug("connect refused", "namespace", ns.name, "socket", s.ID(), "reason", err)
		return err
	}
	if len(ns.onConnect) > 0 {
		// Kept only until Connected hands it to on_connect, right after.
		loadOrCreate(&stateOf(s).connect).handshakeAuth.Store(view)
	}
	return nil
}

// handshakeAuth is the CONNECT auth payload as connect guards, on_connect
// handlers and their expressions see it (handshake.auth). With auth.jwt
// configured, its auth_key member is a credential: the verified claims
// stand for it (user), and it is left out so that no expression can send
// it to a client, a room or a webhook. Built only for namespaces with
// connect guards or on_connect handlers, so that other connects pay no
// decode.
func (st *state) handshakeAuth(auth json.RawMessage) *gatehouse.Payload {
	if st.verifier == nil {
		return gatehouse.NewPayload(auth)
	}
	return gatehouse.NewPayload(withoutMember(auth, st.cfg.Auth.JWT.AuthKey))
}

// withoutMember returns the JSON object raw without its member key,
// however the key is escaped; anything else is returned as it is. The
// other members keep their JSON text (numbers, nesting) as received.
func withoutMember(raw json.RawMessage, key string) json.RawMessage {
	var members map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &members) != nil {
		return raw
	}
	if _, present := members[key]; !present {
		return raw
	}
	delete(members, key)
	out, err := json.Marshal(members)
	if err != nil {
		// Members that came from valid JSON encode again; were one not to,
		// nothing of the payload is shown rather than the token.
		return json.RawMessage(`{}`)
	}
	return out
}

// Connected starts the token lifetime watch and runs on_connect handlers.
func (h hooks) Connected(ctx context.Context, s *socketio.Socket) {
	h.gw.metrics.SocketConnected(s.Namespace())
	// Before on_connect, whose joins may fill rooms.
	h.gw.hooksConnected(s)
	var auth *gatehouse.Payload
	if cs := keptStateOf(s); cs != nil {
		if c := cs.connect.Load(); c != nil {
			// The socket does not hold the client's payload past on_connect.
			auth = c.handshakeAuth.Swap(nil)
		}
	}
	st := h.gw.useState()
	defer st.users.release()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok {
		return
	}
	st.watchExpiry(s)
	h.gw.watchAuthorization(s)
	call := &handlers.Call{Socket: s, Event: "connect", Payload: gatehouse.NewPayload(nil), Auth: auth}
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
	if !h.gw.admitEvent(s, event, ack) {
		return
	}
	q := serialFor(s)
	target := h.gw.resolve(s, event)
	if h.gw.tracer != nil {
		ctx = h.gw.traceEvent(ctx, s, target, event)
	}
	if !h.gw.eventMayBlock(event, target) && q.enterInline() {
		// In place, with the event already looked up: no closure, no
		// goroutine and no second lookup of the config.
		defer q.leaveInline()
		defer h.gw.inFlight.done()
		defer target.release()
		h.gw.dispatchTo(ctx, s, target, event, args, ack)
		return
	}
	h.gw.park(ctx, s, q, target, event, args, ack)
}

// Refuse answers an event the Socket.IO server refused before handing it
// over (too many waiting while the socket is set up), as any refusal.
func (h hooks) Refuse(s *socketio.Socket, event string, ack socketio.AckFunc, err error) {
	h.gw.answer(s, event, ack, nil, err)
}

// Disconnected stops the expiry watch and runs on_disconnect handlers.
func (h hooks) Disconnected(s *socketio.Socket, reason string) {
	h.gw.metrics.SocketDisconnected(s.Namespace())
	h.gw.hooksDisconnected(s, reason)
	stopExpiry(h.gw.host.expiries, s)
	stopAuthorization(s)
	st := h.gw.useState()
	defer st.users.release()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok || len(ns.onDisconnect) == 0 {
		return
	}
	data, _ := json.Marshal(map[string]string{"reason": reason})
	call := &handlers.Call{Socket: s, Event: "disconnect", Payload: gatehouse.NewPayload(data)}
	ctx, cancel := context.WithTimeout(context.Background(), h.gw.cfg.Server.ShutdownGrace.D())
	defer cancel()
	for _, handler := range ns.onDisconnect {
		if _, err := h.gw.safeHandle(ctx, handler, call); err != nil {
			h.gw.logger.Warn("on_disconnect handler failed", "namespace", ns.name, "socket", s.ID(), "error", err)
		}
	}
}
