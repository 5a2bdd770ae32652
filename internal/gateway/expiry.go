package gateway

import (
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// A connection does not outlive its token: shortly before exp the socket is
// told (auth:expiring), it may send a fresh token (auth:refresh), and at exp
// plus the leeway without one it gets a token_expired exception and is
// disconnected.

// expiryWatch holds the two timers of one socket's token.
type expiryWatch struct {
	mu     sync.Mutex
	warn   *time.Timer
	expire *time.Timer
}

func (w *expiryWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warn != nil {
		w.warn.Stop()
	}
	if w.expire != nil {
		w.expire.Stop()
	}
}

// watchExpiry (re)arms the timers for the socket's current claims.
func (st *state) watchExpiry(s *socketio.Socket) {
	stopExpiry(s)
	if st.verifier == nil || st.cfg.Auth.OnExpiry != "disconnect" {
		return
	}
	exp := expiryOf(s.Claims())
	if exp.IsZero() {
		return
	}
	warning := st.cfg.Auth.ExpiryWarning.D()
	deadline := exp.Add(st.cfg.Auth.JWT.Leeway.D())
	logger := st.logger
	w := &expiryWatch{}
	w.mu.Lock()
	w.warn = time.AfterFunc(max(time.Until(exp.Add(-warning)), 0), func() {
		secs := math.Max(0, math.Round(time.Until(exp).Seconds()))
		if err := s.Emit(eventAuthExpiring, map[string]any{"expires_in": secs}); err != nil {
			logger.Debug("auth:expiring not delivered", "socket", s.ID(), "error", err)
		}
	})
	w.expire = time.AfterFunc(max(time.Until(deadline), 0), func() {
		e := gatehouse.Errorf(gatehouse.CodeTokenExpired, "token expired; reconnect with a fresh token")
		disconnectWith(s, e, "token expired", logger)
	})
	w.mu.Unlock()
	stateOf(s).expiry.Store(w)
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

// stopExpiry cancels the socket's timers, if any.
func stopExpiry(s *socketio.Socket) {
	if cs := keptStateOf(s); cs != nil {
		if w := cs.expiry.Load(); w != nil {
			w.stop()
		}
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
	if w != nil {
		claims = w.tokenRefreshed(claims)
	}
	s.SetClaims(claims)
	st.watchExpiry(s)
	reply := map[string]any{"ok": true}
	if exp := expiryOf(claims); !exp.IsZero() {
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
