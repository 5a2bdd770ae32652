package gateway

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/authorizer"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// An authorizer declared with at: upgrade is asked once per connection, at
// the Engine.IO handshake, which comes before any namespace: it refuses the
// whole connection with an HTTP status, or lets it through with an answer
// that the CONNECT of its namespace then uses without asking again.

// authorizeAtUpgrade is the authorizer.at that asks at the handshake.
const authorizeAtUpgrade = "upgrade"

// upgradeAuthorization is what the handshake's authorizer decided, kept
// as the session's handshake Local in place of the token's claims, which
// it carries on for every namespace.
type upgradeAuthorization struct {
	// token are the claims of the handshake's token; nil without one.
	token gatehouse.Claims
	// namespace is the namespace whose authorizer decided.
	namespace string
	decision  authorizer.Decision
	// req is what the handshake presented, kept only when the answer gave
	// a lifetime, for the refresh; until is when that lifetime ends.
	req   authorizer.Request
	until time.Time
}

// upgradeAuthorizer returns the namespace whose authorizer is asked at the
// handshake; nil when none is (the config allows one).
func (st *state) upgradeAuthorizer() *namespaceRuntime {
	for _, ns := range st.namespaces {
		if ns.authorizer != nil && ns.authorizerAt == authorizeAtUpgrade {
			return ns
		}
	}
	return nil
}

// authorizeUpgrade asks the upgrade authorizer about a handshake request,
// after the token check: a refusal answers it with the refusal's status
// and {"code", "message"}; an allowance goes on to the Engine.IO server
// with the answer as the handshake's Local. The session's later requests
// (with a sid) are the session's: not asked again.
func (gw *Gateway) authorizeUpgrade(c *fiber.Ctx) error {
	if c.Query("sid") != "" {
		return c.Next()
	}
	ns := gw.state().upgradeAuthorizer()
	if ns == nil {
		return c.Next()
	}
	token, _ := c.Locals(engineio.HandshakeLocal).(gatehouse.Claims)
	headers, cookies := ns.authorizer.Gather(func(name string) string { return c.Get(name) })
	req := authorizer.Request{Namespace: ns.name, Headers: headers, Cookies: cookies, Address: c.IP(), Claims: token}
	d, err := ns.authorizer.Authorize(c.UserContext(), req)
	if err != nil {
		gw.countAuthorizerRefusal(ns.name, c.IP(), err)
		e := gatehouse.AsError(err)
		return c.Status(upgradeRefusalStatus(e.Code)).JSON(fiber.Map{"code": string(e.Code), "message": e.Message})
	}
	ua := &upgradeAuthorization{token: token, namespace: ns.name, decision: *d}
	if d.Lifetime > 0 && !d.FailedOpen {
		ua.req, ua.until = req, time.Now().Add(d.Lifetime)
	}
	c.Locals(engineio.HandshakeLocal, ua)
	return c.Next()
}

// upgradeRefusalStatus is the HTTP status of a refusal at the handshake.
func upgradeRefusalStatus(code gatehouse.Code) int {
	switch code {
	case gatehouse.CodeUnauthorized, gatehouse.CodeTokenExpired:
		return fiber.StatusUnauthorized
	case gatehouse.CodeForbidden:
		return fiber.StatusForbidden
	case gatehouse.CodeRateLimited:
		return fiber.StatusTooManyRequests
	case gatehouse.CodePayloadTooLarge:
		return fiber.StatusRequestEntityTooLarge
	}
	return fiber.StatusServiceUnavailable
}

// upgradeAuthorizationOf returns what the handshake's authorizer decided
// for the socket's session, or nil.
func upgradeAuthorizationOf(s *socketio.Socket) *upgradeAuthorization {
	hs := s.Handshake()
	if hs == nil {
		return nil
	}
	ua, _ := hs.Local.(*upgradeAuthorization)
	return ua
}

// holds reports whether the answer stands for a CONNECT to namespace now:
// given by that namespace's authorizer, and within its lifetime.
func (ua *upgradeAuthorization) holds(namespace string) bool {
	return ua.namespace == namespace && (ua.until.IsZero() || time.Now().Before(ua.until))
}

// apply gives the socket the handshake's answer, as authorize does with an
// answer at CONNECT, and returns the claims it carries.
func (ua *upgradeAuthorization) apply(s *socketio.Socket, tokenClaims gatehouse.Claims) gatehouse.Claims {
	d := ua.decision
	if !d.FailedOpen {
		w := &authzWatch{tokenClaims: tokenClaims, answerClaims: d.Claims}
		if !ua.until.IsZero() {
			w.req, w.lifetime = ua.req, time.Until(ua.until)
		}
		stateOf(s).authz.Store(w)
	}
	return authorizedClaims(tokenClaims, &d)
}
