package main

import (
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// codedError is an error the client sees: a stable code and a message, as
// in the Node baseline.
type codedError struct {
	code, message string
}

func (e *codedError) Error() string { return e.message }

func unauthorized(message string) *codedError { return &codedError{"unauthorized", message} }

// maxToken bounds the token read, as the Node baseline does.
const maxToken = 8192

// verifier checks HS256 tokens signed with one secret.
type verifier struct {
	parser *jwt.Parser
	secret []byte
}

func newVerifier(secret string) *verifier {
	return &verifier{
		// The key function admits HS256 alone, as the Node baseline does.
		parser: jwt.NewParser(jwt.WithExpirationRequired()),
		secret: []byte(secret),
	}
}

// verify returns the claims of a valid HS256 token with an exp, or a
// codedError with the Node baseline's code and message.
func (v *verifier) verify(token string) (jwt.MapClaims, error) {
	if token == "" {
		return nil, unauthorized("authentication required")
	}
	if len(token) > maxToken {
		return nil, unauthorized("token too large")
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != "HS256" {
			return nil, errUnsupportedAlg
		}
		return v.secret, nil
	})
	if err == nil {
		return claims, nil
	}
	return nil, tokenError(err)
}

var errUnsupportedAlg = errors.New("unsupported algorithm")

// tokenError maps the parser's errors to the Node baseline's codes and
// messages.
func tokenError(err error) *codedError {
	switch {
	case errors.Is(err, errUnsupportedAlg):
		return unauthorized("unsupported algorithm")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("malformed token")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An algorithm the parser does not know, or one the key
		// function refused.
		return unauthorized("unsupported algorithm")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthorized("invalid signature")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrInvalidType):
		return unauthorized("token has no exp")
	case errors.Is(err, jwt.ErrTokenExpired):
		return &codedError{"token_expired", "token expired"}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized("token not valid yet")
	}
	return unauthorized("malformed token")
}

// tokenOf reads the token where C1 accepts it: auth.token, then the
// Authorization header, then the token query parameter.
func tokenOf(s *socket.Socket) string {
	if t, ok := s.Handshake().Auth["token"].(string); ok {
		return t
	}
	if authz, ok := strings.CutPrefix(s.Request().Headers().Peek("Authorization"), "Bearer "); ok {
		return authz
	}
	return s.Request().Query().Peek("token")
}
