package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// tokenClaims are a token's claims as VerifyJSON has golang-jwt's parser
// decode them: their JSON text, kept as it is, and nothing else. The
// validator reads each registered claim through the getters, which find it
// in the text and decode it alone, to the value and with the error that
// jwt.MapClaims gives: a token is accepted or refused as with the map, which
// is never built (about 40 short-lived objects, 2 KB, per token).
//
// The text is the buffer the parser decoded the payload segment into, which
// it makes for each token and never reuses, so it is kept rather than
// copied (tested: the text of one token outlives the verification of the
// next).
type tokenClaims struct {
	// text is the claims' JSON object; nil for a payload of null, which
	// decodes into jwt.MapClaims as no claims at all.
	text []byte
}

var _ jwt.Claims = (*tokenClaims)(nil)

var errClaimsNotObject = errors.New("token claims are not a JSON object")

// UnmarshalJSON keeps b, the payload's JSON value, when it is an object;
// anything else is an error, as it is when decoding into jwt.MapClaims, and
// the parser refuses the token as malformed. encoding/json has checked b's
// syntax and hands a null to no UnmarshalJSON: c then stays empty.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return errClaimsNotObject
	}
	c.text = b[:len(b):len(b)]
	return nil
}

// has reports whether the claims have a member name, null included.
func (c *tokenClaims) has(name string) bool {
	_, ok := socketio.ObjectMember(c.text, name)
	return ok
}

// claim decodes the member name as jwt.MapClaims holds it (encoding/json's
// decoding into an any) and reports whether the claims have it; raw is its
// JSON text. A number beyond float64's range makes the map's decoding fail
// and the parser call the token malformed; here the error says the same.
func (c *tokenClaims) claim(name string) (v any, raw json.RawMessage, ok bool, err error) {
	raw, ok = socketio.ObjectMember(c.text, name)
	if !ok {
		return nil, nil, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, raw, true, fmt.Errorf("claim %s: %w: %w", name, jwt.ErrTokenMalformed, err)
	}
	return v, raw, true, nil
}

// GetExpirationTime implements jwt.Claims as jwt.MapClaims does.
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.numericDate("exp") }

// GetNotBefore implements jwt.Claims as jwt.MapClaims does.
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.numericDate("nbf") }

// GetIssuedAt implements jwt.Claims as jwt.MapClaims does.
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error) { return c.numericDate("iat") }

// GetIssuer implements jwt.Claims as jwt.MapClaims does.
func (c *tokenClaims) GetIssuer() (string, error) { return c.str("iss") }

// GetSubject implements jwt.Claims as jwt.MapClaims does.
func (c *tokenClaims) GetSubject() (string, error) { return c.str("sub") }

// GetAudience implements jwt.Claims as jwt.MapClaims does: a string or a
// list of strings; a list holding anything else is an error, and any other
// value (absent, null, a number) is no audience.
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	v, _, _, err := c.claim("aud")
	if err != nil {
		return nil, err
	}
	var aud []string
	switch v := v.(type) {
	case string:
		aud = append(aud, v)
	case []any:
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, invalidClaim("aud")
			}
			aud = append(aud, s)
		}
	}
	return aud, nil
}

// numericDate reads a time claim as jwt.MapClaims does: absent or 0 is
// none, any other number is seconds since the epoch (converted by
// golang-jwt's NumericDate from the claim's own text), anything else an
// error. A number is parsed as encoding/json parses it into the map's
// float64 (strconv.ParseFloat), without decoding it into an any first.
func (c *tokenClaims) numericDate(name string) (*jwt.NumericDate, error) {
	raw, ok := socketio.ObjectMember(c.text, name)
	if !ok {
		return nil, nil
	}
	if !isJSONNumber(raw) {
		if _, _, _, err := c.claim(name); err != nil {
			return nil, err
		}
		return nil, invalidClaim(name)
	}
	seconds, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w: %w", name, jwt.ErrTokenMalformed, err)
	}
	if seconds == 0 {
		return nil, nil
	}
	date := new(jwt.NumericDate)
	if err := date.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("claim %s: %w: %w", name, jwt.ErrTokenMalformed, err)
	}
	return date, nil
}

// isJSONNumber reports whether raw, one valid JSON value, is a number: the
// only values that start with a minus sign or a digit.
func isJSONNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// str reads a string claim as jwt.MapClaims does: absent is "", a value
// other than a string an error.
func (c *tokenClaims) str(name string) (string, error) {
	v, _, ok, err := c.claim(name)
	if err != nil || !ok {
		return "", err
	}
	s, isString := v.(string)
	if !isString {
		return "", invalidClaim(name)
	}
	return s, nil
}

func invalidClaim(name string) error {
	return fmt.Errorf("%s is invalid: %w", name, jwt.ErrInvalidType)
}
