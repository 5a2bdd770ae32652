package gateway

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// authenticate finds the socket's token (CONNECT auth payload first, then
// the upgrade request) and verifies it, per the namespace's auth mode.
// For a token of the CONNECT payload, the claims come as text, their JSON,
// which the socket keeps in place of the decoded claims (see setClaims),
// and claims is nil: nothing decodes them unless something reads them.
func (st *state) authenticate(ns *namespaceRuntime, s *socketio.Socket, auth json.RawMessage) (claims gatehouse.Claims, text []byte, err error) {
	upgradeClaims := upgradeClaimsOf(s)
	if st.verifier == nil {
		return upgradeClaims, nil, nil
	}
	if ns.auth == authNone {
		// Tokens are ignored here, but the claims of one that has since
		// expired are not handed on to guards and handlers either.
		if upgradeClaims != nil && st.verifier.CheckLifetime(upgradeClaims) != nil {
			return nil, nil, nil
		}
		return upgradeClaims, nil, nil
	}
	if token, present := tokenFromAuth(auth, st.cfg.Auth.JWT.AuthKey); present {
		text, err := st.verifier.VerifyJSON(token)
		if err != nil {
			return nil, nil, err
		}
		return nil, text, nil
	}
	if upgradeClaims != nil {
		// Verified at the handshake, which may be long past: a token that
		// has expired since (or is still not valid) is refused now.
		if err := st.verifier.CheckLifetime(upgradeClaims); err != nil {
			return nil, nil, err
		}
		return upgradeClaims, nil, nil
	}
	if ns.auth == authRequired {
		return nil, nil, gatehouse.Errorf(gatehouse.CodeUnauthorized,
			"authentication required: send a token in the auth payload (auth: { %s }), the Authorization header or the token query parameter",
			st.cfg.Auth.JWT.AuthKey)
	}
	return nil, nil, nil
}

// setClaims gives s its verified claims. When text, their JSON, is at hand
// the socket keeps that instead, about 60 bytes for a typical token where
// the decoded map takes over 400, and decodes it only when something reads
// more than its sub and exp: an idle socket never does.
func setClaims(s *socketio.Socket, claims gatehouse.Claims, text []byte) {
	if text != nil {
		s.SetClaimsJSON(text)
		return
	}
	s.SetClaims(claims)
}

// upgradeClaimsOf returns the claims the auth middleware verified at the
// socket's upgrade request and left as the handshake's Local, or nil.
func upgradeClaimsOf(s *socketio.Socket) gatehouse.Claims {
	hs := s.Handshake()
	if hs == nil {
		return nil
	}
	switch local := hs.Local.(type) {
	case gatehouse.Claims:
		return local
	case *upgradeAuthorization:
		return local.token
	}
	return nil
}

// Namespace auth modes.
const (
	authRequired = "required"
	authOptional = "optional"
	authNone     = "none"
)

// tokenFromAuth extracts auth[key] from a CONNECT payload. present is true
// when the key is there at all, so that an empty or non-string token is
// refused rather than silently ignored.
func tokenFromAuth(auth json.RawMessage, key string) (token string, present bool) {
	raw, ok := socketio.ObjectMember(auth, key)
	if !ok || string(raw) == "null" {
		return "", false
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		// A string without escapes, as tokens are: its bytes are the token.
		return string(raw[1 : len(raw)-1]), true
	}
	if err := json.Unmarshal(raw, &token); err != nil {
		return "", true
	}
	return token, true
}

// expiryOf reads an exp claim as a time; zero when absent.
func expiryOf(exp any) time.Time {
	switch exp := exp.(type) {
	case float64:
		return time.Unix(int64(exp), 0)
	case int64:
		return time.Unix(exp, 0)
	case json.Number:
		if n, err := exp.Int64(); err == nil {
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}
