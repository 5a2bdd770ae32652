package socketio

import (
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse"
)

// socketClaims are a socket's claims as they were last set: a map, or the
// JSON text of an object (a verified token's payload) that Claims decodes
// on its first call. An idle socket is served by its token's sub and exp
// alone, read from the text, so it keeps the text (about 60 bytes for a
// typical token) rather than a decoded map (over 400: the map's header, its
// 8-slot group, every key and value). A value is never changed once
// stored: decoding stores a new one in its place.
type socketClaims struct {
	decoded gatehouse.Claims
	// text, when not nil, is the claims' JSON object, not decoded yet.
	text []byte
}

// Claims are the socket's verified claims, nil until the Connect hook (or a
// token refresh) sets them with SetClaims or SetClaimsJSON. Claims set as
// JSON text are decoded on the first call, as encoding/json decodes them
// into a map[string]any; every later call returns that same map.
func (s *Socket) Claims() gatehouse.Claims {
	for {
		c := s.claims.Load()
		if c == nil {
			return nil
		}
		if c.text == nil {
			return c.decoded
		}
		decoded := DecodeClaims(c.text)
		// Of two goroutines decoding at once, both return the map stored
		// first; a SetClaims meanwhile is read again.
		if s.claims.CompareAndSwap(c, &socketClaims{decoded: decoded}) {
			return decoded
		}
	}
}

// DecodeClaims decodes text, the JSON object of a verified token's claims,
// as Claims does for claims set with SetClaimsJSON: into a map[string]any
// by encoding/json. It was verified as an object, so an error cannot
// happen, and would leave the claims empty rather than nil (nil means no
// token).
func DecodeClaims(text []byte) gatehouse.Claims {
	var claims gatehouse.Claims
	if err := json.Unmarshal(text, &claims); err != nil || claims == nil {
		return gatehouse.Claims{}
	}
	return claims
}

// Claim returns the claim name as Claims()[name] has it (nil when absent),
// without decoding the other claims when they are still JSON text.
func (s *Socket) Claim(name string) any {
	v, _ := s.LookupClaim(name)
	return v
}

// LookupClaim returns the claim name as Claims()[name] has it, and whether
// the claims have it (a null claim is there, nil), without decoding the
// other claims when they are still JSON text.
func (s *Socket) LookupClaim(name string) (any, bool) {
	c := s.claims.Load()
	if c == nil {
		return nil, false
	}
	if c.text == nil {
		v, ok := c.decoded[name]
		return v, ok
	}
	raw, ok := ObjectMember(c.text, name)
	if !ok {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	return v, true
}

// Subject is the sub claim, or "" when it is absent or not a string.
func (s *Socket) Subject() string {
	sub, _ := s.Claim("sub").(string)
	return sub
}

// SetClaims replaces the socket's claims, and with them the user the socket
// is listed under by Server.SocketsOfUser.
func (s *Socket) SetClaims(claims gatehouse.Claims) {
	if claims == nil {
		s.claims.Store(nil)
	} else {
		s.claims.Store(&socketClaims{decoded: claims})
	}
	s.ns.reindexSubject(s)
}

// SetClaimsJSON replaces the socket's claims with those of text, the JSON
// object of a verified token's payload, which the socket keeps (the caller
// gives it up) and decodes when Claims is first called: a socket whose
// claims nobody reads beyond its sub and exp never holds them decoded.
func (s *Socket) SetClaimsJSON(text []byte) {
	s.claims.Store(&socketClaims{text: text})
	s.ns.reindexSubject(s)
}
