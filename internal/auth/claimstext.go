package auth

import (
	"encoding/base64"
	"strings"
)

// ClaimsJSON returns the JSON text of a token's claims: its second segment,
// base64url-decoded as v's parser decodes it (unpadded, not
// strict), the bytes Verify decodes the claims from. It is meant for a
// token Verify accepted, whose claims the caller keeps as text rather than
// as the decoded map (see socketio.Socket.SetClaimsJSON); ok is false for
// a token of other than three segments or a payload that is not base64url.
func (v *Verifier) ClaimsJSON(token string) (text []byte, ok bool) {
	_, rest, found := strings.Cut(token, ".")
	if !found {
		return nil, false
	}
	payload, signature, found := strings.Cut(rest, ".")
	if !found || strings.Contains(signature, ".") {
		return nil, false
	}
	text, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	return text, true
}
