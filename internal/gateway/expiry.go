package gateway

import (
	"log/slog"
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/deadline"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// A connection does not outlive its token: shortly before exp the socket is
// told (auth:expiring), it may send a fresh token (auth:refresh), and at exp
// plus the leeway without one it gets a token_expired exception and is
// disconnected.

// expiryWatch holds the two deadlines of one socket's token on the
// gateway's scheduler (the warning and the disconnect), inside the
// socket's connState: most idle sockets keep the state for this alone, and
// one object of 128 bytes costs less than the state and a watch of their
// own (48 and 112), holes left by connect-time garbage counted. The token's
// exp is read from the socket's claims when the warning is sent, and the
// logger is the Socket.IO server's (the gateway's), so that the watch is
// its two Timers alone. A time.Timer each would cost two allocations and a
// runtime timer per socket, about 440 bytes for sockets idle almost all of
// their life.
//
// A token refresh re-arms the same Timers: the scheduler cancels and arms
// them under its lock, so of a refresh and a re-authorization arming at
// once, one arming stands and no timer is left armed that nothing can
// cancel. A callback already started when its Timer is re-armed goes on,
// as it would have with a watch of its own.
type expiryWatch struct {
	warn, expire deadline.Timer
}

// The callbacks run on the scheduler's goroutine, which must not wait:
// emitting and disconnecting go on goroutines of their own, as they did
// on a timer each. Their argument is the socket's connState.
func expiryWarned(arg any)  { go arg.(*connState).warnExpiring() }
func expiryReached(arg any) { go arg.(*connState).disconnectExpired() }

func (cs *connState) warnExpiring() {
	exp := expiryOf(cs.s.Claim("exp"))
	secs := math.Max(0, math.Round(time.Until(exp).Seconds()))
	if err := cs.s.Emit(eventAuthExpiring, map[string]any{"expires_in": secs}); err != nil {
		cs.s.Logger().Debug("auth:expiring not delivered", "socket", cs.s.ID(), "error", err)
	}
}

func (cs *connState) disconnectExpired() {
	e := gatehouse.Errorf(gatehouse.CodeTokenExpired, "token expired; reconnect with a fresh token")
	disconnectWith(cs.s, e, "token expired", cs.s.Logger())
}

// watchExpiry (re)arms the deadlines for the socket's current claims.
func (st *state) watchExpiry(s *socketio.Socket) {
	stopExpiry(st.expiries, s)
	if st.verifier == nil || st.cfg.Auth.OnExpiry != "disconnect" {
		return
	}
	exp := expiryOf(s.Claim("exp"))
	if exp.IsZero() {
		return
	}
	warning := st.cfg.Auth.ExpiryWarning.D()
	cutoff := exp.Add(st.cfg.Auth.JWT.Leeway.D())
	w := &stateOf(s).expiry
	st.expiries.After(&w.warn, max(time.Until(exp.Add(-warning)), 0))
	st.expiries.After(&w.expire, max(time.Until(cutoff), 0))
}

// disconnectWith tells the socket why it is being disconnected, with an
// exception event carrying e's code and message, then disconnects it: the
// path of an expired token and of an authorization refused at refresh.
func disconnectWith(s *socketio.Socket, e *gatehouse.Error, reason string, logger *slog.Logger) {
	fields := e.Fields()
	fields["status"] = "error"
	fields["event"] = ""
	if err := s.Emit(eventException, fields); err != nil {
		logger.Debug("disconnect reason not delivered", "socket", s.ID(), "code", e.Code, "error", err)
	}
	s.Disconnect(reason)
}

// stopExpiry cancels the socket's timers on timers, the gateway's
// scheduler (one across reloads), if any are armed.
func stopExpiry(timers *deadline.Scheduler, s *socketio.Socket) {
	if cs := keptStateOf(s); cs != nil {
		timers.Cancel(&cs.expiry.warn)
		timers.Cancel(&cs.expiry.expire)
	}
}

// refreshToken handles auth:refresh {token}: the new token must verify and
// carry the same sub; the socket's claims and timers are then replaced.
func (st *state) refreshToken(s *socketio.Socket, payload *gatehouse.Payload) (any, error) {
	if st.verifier == nil {
		return nil, gatehouse.Errorf(gatehouse.CodeUnknownEvent, "this gateway does not verify tokens")
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := payload.Decode(&body); err != nil || body.Token == "" {
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "auth:refresh expects {token: \"<jwt>\"}")
	}
	claims, _, err := st.verifier.Verify(body.Token)
	if err != nil {
		return nil, err
	}
	// With an authorizer, the socket's token is renewed, not the claims
	// the backend gave over it, which stay.
	w := authzOf(s)
	current := s.Claims()
	if w != nil {
		current = w.token()
	}
	if err := sameSubject(current, claims); err != nil {
		return nil, err
	}
	var text []byte
	if w != nil {
		claims = w.tokenRefreshed(claims)
	} else {
		text, _ = st.verifier.ClaimsJSON(body.Token)
	}
	setClaims(s, claims, text)
	st.watchExpiry(s)
	reply := map[string]any{"ok": true}
	if exp := expiryOf(claims["exp"]); !exp.IsZero() {
		reply["expires_at"] = exp.Unix()
	}
	return reply, nil
}

// sameSubject lets a fresh token replace the socket's token only when both
// name the same subject, a non-empty string: a missing or non-string sub
// reads as "" and would otherwise make any two such tokens "the same
// user", and a socket that connected without a token has nobody to renew.
func sameSubject(old, fresh gatehouse.Claims) error {
	oldSub, _ := old["sub"].(string)
	freshSub, _ := fresh["sub"].(string)
	switch {
	case old == nil:
		return gatehouse.Errorf(gatehouse.CodeForbidden,
			"auth:refresh renews the token a socket connected with; this socket connected without one")
	case oldSub == "":
		return gatehouse.Errorf(gatehouse.CodeForbidden,
			"the socket's token has no sub claim (a non-empty string), so it cannot be renewed; reconnect with a fresh token")
	case freshSub == "":
		return gatehouse.Errorf(gatehouse.CodeUnauthorized,
			"the new token has no sub claim (a non-empty string), so it cannot renew the socket's token")
	case freshSub != oldSub:
		return gatehouse.Errorf(gatehouse.CodeForbidden, "the new token belongs to another subject")
	}
	return nil
}
