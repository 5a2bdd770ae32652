package auth

import (
	"errors"
	"strings"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// ExpLocal is the fiber.Ctx Locals key under which Middleware leaves the
// verified token's expiry (a time.Time, zero when the token has none), beside
// the claims (gatehouse.Claims) under engineio.HandshakeLocal, which the
// session keeps as its Handshake's Local.
const ExpLocal = "gatehouse.exp"

// tokenLocal is where contrib/jwt leaves the parsed token for the success
// handler; it is cleared once the claims are stored.
const tokenLocal = "gatehouse.jwt"

// Middleware verifies the token of a handshake request, looked up in the
// places the config lists (header:NAME as "Bearer <token>", query:NAME,
// cookie:NAME). A request without a token passes through, since a namespace
// may accept anonymous sockets or a token in its CONNECT payload; a request
// with a token that does not verify is refused with 401 and a JSON body
// {"code", "message"}. Verified claims go to Locals engineio.HandshakeLocal and
// the expiry to ExpLocal.
//
// A request that carries a session id (a poll, a POST of packets, the
// WebSocket probe of a polling session) is not checked: the session
// authorises it, and the Engine.IO server refuses an unknown sid. Clients
// repeat the handshake's query and headers on every request, so checking
// them would end a session at its first token's exp even after the socket
// refreshed its token with auth:refresh; the sockets' own expiry watch
// decides how long an authenticated socket lives.
func (v *Verifier) Middleware() fiber.Handler {
	return jwtware.New(jwtware.Config{
		Filter:      func(c *fiber.Ctx) bool { return c.Query("sid") != "" || v.lookupToken(c) == "" },
		KeyFunc:     v.keyfunc,
		TokenLookup: strings.Join(v.lookup, ","),
		AuthScheme:  "Bearer",
		ContextKey:  tokenLocal,
		TokenProcessorFunc: func(token string) (string, error) {
			if err := v.checkSize(token); err != nil {
				return "", err
			}
			return token, nil
		},
		SuccessHandler: v.upgradeVerified,
		ErrorHandler:   v.upgradeRefused,
	})
}

// upgradeVerified runs after contrib/jwt checked the signature and the
// claims it knows (exp and nbf, without leeway); it adds the checks of the
// config: exp required, iss, aud.
func (v *Verifier) upgradeVerified(c *fiber.Ctx) error {
	token, _ := c.Locals(tokenLocal).(*jwt.Token)
	c.Locals(tokenLocal, nil)
	if token == nil {
		return refuse(c, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is invalid"))
	}
	claims, ok := token.Claims.(jwt.MapClaims)
	if !ok {
		return refuse(c, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token claims are not a JSON object"))
	}
	if _, ok := v.allowed[token.Method.Alg()]; !ok {
		return refuse(c, algorithmRefused(token.Method.Alg()))
	}
	if err := v.validator.Validate(claims); err != nil {
		return refuse(c, v.refusal(errors.Join(jwt.ErrTokenInvalidClaims, err), token))
	}
	return v.accept(c, claims)
}

// upgradeRefused answers a token contrib/jwt refused. A token that failed
// only on time may still be within the configured leeway, which contrib/jwt
// does not apply, so it is verified again before it is refused.
func (v *Verifier) upgradeRefused(c *fiber.Ctx, err error) error {
	c.Locals(tokenLocal, nil)
	if v.leeway > 0 && (errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet)) {
		claims, _, verr := v.Verify(v.lookupToken(c))
		if verr == nil {
			return v.accept(c, jwt.MapClaims(claims))
		}
		return refuse(c, gatehouse.AsError(verr))
	}
	if errors.Is(err, jwtware.ErrJWTMissingOrMalformed) {
		return refuse(c, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is missing or malformed"))
	}
	return refuse(c, v.refusal(err, nil))
}

func (v *Verifier) accept(c *fiber.Ctx, claims jwt.MapClaims) error {
	c.Locals(engineio.HandshakeLocal, gatehouse.Claims(claims))
	c.Locals(ExpLocal, expiry(claims))
	return c.Next()
}

func refuse(c *fiber.Ctx, e *gatehouse.Error) error {
	return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"code": string(e.Code), "message": e.Message})
}

// lookupToken returns the first token the request carries in a configured
// place, read the way contrib/jwt reads it, or "".
func (v *Verifier) lookupToken(c *fiber.Ctx) string {
	for _, place := range v.lookup {
		source, name, _ := strings.Cut(place, ":")
		var token string
		switch source {
		case "header":
			const scheme = "Bearer "
			value := c.Get(name)
			if len(value) > len(scheme)+1 && strings.EqualFold(value[:len(scheme)], scheme) {
				token = strings.TrimSpace(value[len(scheme):])
			}
		case "query":
			token = c.Query(name)
		case "cookie":
			token = c.Cookies(name)
		}
		if token != "" {
			return token
		}
	}
	return ""
}
