package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/authorizer"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// A namespace may declare an authorizer: a backend asked at CONNECT, after
// the token check, whether the socket may connect and with what claims.
// When its answer gives a lifetime, the socket is asked about again before
// the lifetime ends, and a refusal then disconnects it the way an expired
// token does.

// buildAuthorizer builds the namespace's authorizer; nil when it declares
// none.
func buildAuthorizer(ns gatewayconfig.Namespace, env *hostEnv) (*authorizer.Authorizer, error) {
	z := ns.Authorizer
	if z == nil {
		return nil, nil
	}
	opts := authorizer.Options{Namespace: ns.Name}
	if env != nil {
		opts.Logger, opts.Registerer = env.logger, env.metrics
	}
	a, err := authorizer.New(authorizer.Config{
		URL:            z.URL,
		Timeout:        z.Timeout.D(),
		RequestHeaders: z.RequestHeaders,
		OnError:        authorizer.Policy(z.OnError),
		Forward:        authorizer.Forward{Headers: z.Headers, Cookies: z.Cookies},
		Cache:          authorizer.CacheConfig{Size: z.Cache.Size, TTL: z.Cache.TTL.D(), MaxBytes: int(z.Cache.MaxBytes)},
		MaxRequest:     int(z.MaxRequest),
		MaxAnswer:      int(z.MaxAnswer),
		MaxInFlight:    z.MaxInFlight,
	}, opts)
	if err != nil {
		return nil, gatewayconfig.Errorf(ns.Pos, "namespace %s: authorizer: %v", ns.Name, err)
	}
	return a, nil
}

// authorize asks the namespace's authorizer about a socket whose token
// check gave tokenClaims (nil without a token), and returns the claims the
// socket is to carry. The answer is kept on the socket (authzWatch), so
// that auth:refresh keeps its claims and Connected starts the refresh of an
// answer with a lifetime.
func (gw *Gateway) authorize(ctx context.Context, st *state, ns *namespaceRuntime, s *socketio.Socket, auth json.RawMessage, tokenClaims gatehouse.Claims) (gatehouse.Claims, error) {
	if ns.authorizerAt == authorizeAtUpgrade {
		if ua := upgradeAuthorizationOf(s); ua != nil && ua.holds(ns.name) {
			return ua.apply(s, tokenClaims), nil
		}
		// A session opened before a reload declared the authorizer, or
		// whose answer's lifetime has ended since: asked now.
	}
	req := st.authorizerRequest(ns, s, auth, tokenClaims)
	d, err := ns.authorizer.Authorize(ctx, req)
	if err != nil {
		gw.countAuthorizerRefusal(ns.name, s.RemoteIP(), err)
		return nil, err
	}
	if !d.FailedOpen {
		w := &authzWatch{tokenClaims: tokenClaims, answerClaims: d.Claims}
		if d.Lifetime > 0 {
			// Kept for the refresh only: what the client presented.
			w.req, w.lifetime = req, d.Lifetime
		}
		stateOf(s).authz.Store(w)
	}
	return authorizedClaims(tokenClaims, d), nil
}

// countAuthorizerRefusal counts, with the limits of server.limits, the
// refusals that an authorizer's own bounds make: they say a client (or
// many) presented too much, or connected faster than the backend answers.
func (gw *Gateway) countAuthorizerRefusal(namespace, ip string, err error) {
	var limit string
	switch gatehouse.AsError(err).Code {
	case gatehouse.CodePayloadTooLarge:
		limit = "authorizer_max_request"
	case gatehouse.CodeUnavailable:
		limit = "authorizer_max_in_flight"
	default:
		return
	}
	if gw.refusals != nil {
		gw.refusals.refused(limit, "ip", ip, "namespace", namespace)
	}
}

// authorizerRequest gathers what the client presented. When the namespace
// checked a token, the token itself is left out of the auth payload: its
// verified claims go instead.
func (st *state) authorizerRequest(ns *namespaceRuntime, s *socketio.Socket, auth json.RawMessage, tokenClaims gatehouse.Claims) authorizer.Request {
	presented := auth
	if ns.auth != authNone && st.verifier != nil {
		presented = withoutMember(auth, st.cfg.Auth.JWT.AuthKey)
	}
	headers, cookies := ns.authorizer.Gather(s.Header)
	return authorizer.Request{Namespace: ns.name, Auth: presented, Headers: headers, Cookies: cookies,
		Address: s.RemoteIP(), Claims: tokenClaims}
}

// authorizedClaims are the token's claims with the answer's over them;
// a call that failed open keeps the token's alone.
func authorizedClaims(tokenClaims gatehouse.Claims, d *authorizer.Decision) gatehouse.Claims {
	switch {
	case d.FailedOpen || d.Claims == nil:
		return tokenClaims
	case tokenClaims == nil:
		return d.Claims
	}
	merged := maps.Clone(tokenClaims)
	maps.Copy(merged, d.Claims)
	return merged
}

// authzWatch is what the gateway keeps of a socket's authorization: the
// two sources of its claims, so that a fresh token (auth:refresh) keeps the
// backend's claims over it and a fresh answer keeps the token's under it,
// and, when the answer gave a lifetime, what to ask again before it ends.
type authzWatch struct {
	mu sync.Mutex
	// tokenClaims are the claims of the socket's current token; nil
	// without one.
	tokenClaims gatehouse.Claims
	// answerClaims are the claims of the backend's last answer.
	answerClaims gatehouse.Claims
	// req is what the client presented at CONNECT; kept only when the
	// answer gave a lifetime.
	req      authorizer.Request
	lifetime time.Duration
	timer    *time.Timer
	stopped  bool
}

// authzOf returns the socket's authorization, nil when no authorizer let
// it in (none declared, or it failed open).
func authzOf(s *socketio.Socket) *authzWatch {
	if cs := keptStateOf(s); cs != nil {
		return cs.authz.Load()
	}
	return nil
}

// tokenRefreshed records the socket's fresh token and returns the claims
// the socket then carries: the new token's, with the backend's over them.
func (w *authzWatch) tokenRefreshed(claims gatehouse.Claims) gatehouse.Claims {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tokenClaims = claims
	return authorizedClaims(claims, &authorizer.Decision{Claims: w.answerClaims})
}

// answered records a fresh answer and returns the claims the socket then
// carries.
func (w *authzWatch) answered(d *authorizer.Decision) gatehouse.Claims {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answerClaims = d.Claims
	return authorizedClaims(w.tokenClaims, d)
}

// request is what the backend is asked at a refresh: what the client
// presented at CONNECT, with the claims of its current token.
func (w *authzWatch) request() authorizer.Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	req := w.req
	req.Claims = w.tokenClaims
	return req
}

// token returns the claims of the socket's current token.
func (w *authzWatch) token() gatehouse.Claims {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tokenClaims
}

// refreshAhead is the share of a lifetime left when the socket is asked
// about again, so that the answer comes before the lifetime ends.
const refreshAhead = 5

// arm schedules the next re-authorization for an answer of lifetime.
func (w *authzWatch) arm(lifetime time.Duration, refresh func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || lifetime <= 0 {
		return
	}
	w.lifetime = lifetime
	w.timer = time.AfterFunc(lifetime-lifetime/refreshAhead, refresh)
}

func (w *authzWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// watchAuthorization starts the refresh of a socket whose authorizer gave
// a lifetime at CONNECT.
func (gw *Gateway) watchAuthorization(s *socketio.Socket) {
	if w := authzOf(s); w != nil {
		w.arm(w.lifetime, func() { gw.reauthorize(s, w) })
	}
}

// stopAuthorization cancels the socket's refresh, if any.
func stopAuthorization(s *socketio.Socket) {
	if w := authzOf(s); w != nil {
		w.stop()
	}
}

// reauthorize asks the current config's authorizer about the socket again:
// allowed, its claims are replaced and the next refresh armed; refused (or
// failed closed), it is told why and disconnected, as at token expiry;
// failed open, it keeps its claims for another lifetime.
func (gw *Gateway) reauthorize(s *socketio.Socket, w *authzWatch) {
	st := gw.useState()
	defer st.users.release()
	ns, ok := st.namespaces[s.Namespace()]
	if !ok || ns.authorizer == nil {
		// A reload took the authorizer away: nobody left to ask.
		return
	}
	d, err := ns.authorizer.Reauthorize(s.Context(), w.request())
	switch {
	case s.Context().Err() != nil:
		return
	case err != nil:
		gw.logger.Debug("authorization refused at refresh", "namespace", ns.name, "socket", s.ID(), "reason", err)
		disconnectWith(s, gatehouse.AsError(err), "authorization refused", gw.logger)
		return
	case d.FailedOpen:
		w.arm(w.lifetime, func() { gw.reauthorize(s, w) })
		return
	}
	s.SetClaims(w.answered(d))
	// The answer's claims may carry an exp of their own.
	st.watchExpiry(s)
	w.arm(d.Lifetime, func() { gw.reauthorize(s, w) })
}
