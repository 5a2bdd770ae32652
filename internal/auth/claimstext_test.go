package auth

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// The text ClaimsJSON returns for a token Verify accepted decodes to the
// claims Verify returned.
func TestClaimsJSONDecodesToVerifiedClaims(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}})
	for _, claims := range []jwt.MapClaims{
		validClaims(),
		withClaims(jwt.MapClaims{"role": "admin", "groups": []any{"a", "b"}, "n": 1.5, "name": "Zoë \"Z\""}),
		withClaims(jwt.MapClaims{"meta": map[string]any{"sub": "nested"}}),
	} {
		token := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
		verified, _, err := v.Verify(token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		text, ok := v.ClaimsJSON(token)
		if !ok {
			t.Fatalf("no claims text for %s", token)
		}
		var decoded gatehouse.Claims
		if err := json.Unmarshal(text, &decoded); err != nil {
			t.Fatalf("claims text %s: %v", text, err)
		}
		if !reflect.DeepEqual(decoded, verified) {
			t.Fatalf("claims text decodes to %v, Verify returned %v", decoded, verified)
		}
	}
}

func TestClaimsJSONRefusesMalformedTokens(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}})
	for _, token := range []string{"", "a", "a.b", "a.b.c.d", "a.not*base64.c", "a.eyJzdWIiOiJ1In0=.c"} {
		if text, ok := v.ClaimsJSON(token); ok {
			t.Errorf("ClaimsJSON(%q) = %q, want none", token, text)
		}
	}
}
