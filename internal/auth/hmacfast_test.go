package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// signRaw signs a token whose header and claims are the given JSON texts,
// as written, so that the tests can feed the verifier JSON that a signing
// library would never write.
func signRaw(t testing.TB, method jwt.SigningMethod, secret, header, claims string) string {
	t.Helper()
	signed := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sig, err := method.Sign(signed, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestVerifyFastPathMatchesTheParser checks that a token verifies to the
// same claims, expiry and refusal with the HMAC fast path as with the
// parser alone, and that the common tokens do take the fast path.
func TestVerifyFastPathMatchesTheParser(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	tests := []struct {
		name, header, claims string
		method               jwt.SigningMethod
		secret               string
		fast                 bool
	}{
		{name: "plain", claims: `{"sub":"alice","username":"Alice","exp":%d}`, fast: true},
		{name: "white space", header: " {\n\"alg\" : \"HS256\" }\t", claims: "\r\n{ \"sub\" :\"a\" , \"exp\": %d } ", fast: true},
		{name: "last of duplicate keys", claims: `{"sub":"a","sub":"b","exp":1,"exp":%d}`, fast: true},
		{name: "numbers", claims: `{"a":1.5,"b":-0,"c":1e3,"d":0.1E-2,"e":12345678901234567890,"f":-7e+2,"exp":%d}`, fast: true},
		{name: "fractional exp", claims: `{"sub":"a","exp":%d.123456789}`, fast: true},
		{name: "exp 0", claims: `{"sub":"a","exp":0}`},
		{name: "booleans and null", claims: `{"admin":true,"guest":false,"team":null,"exp":%d}`, fast: true},
		{name: "empty string key and value", claims: `{"":"","exp":%d}`, fast: true},
		{name: "escaped string", claims: `{"sub":"a\"b\u00e9","exp":%d}`},
		{name: "utf-8 string", claims: `{"sub":"é","exp":%d}`},
		{name: "invalid utf-8", claims: "{\"sub\":\"\xff\",\"exp\":%d}"},
		{name: "array", claims: `{"roles":["a","b"],"exp":%d}`},
		{name: "object", claims: `{"org":{"id":1},"exp":%d}`},
		{name: "expired", claims: `{"sub":"a","exp":` + fmt.Sprint(past) + `}`},
		{name: "no exp", claims: `{"sub":"a"}`},
		{name: "exp a string", claims: `{"sub":"a","exp":"%d"}`},
		{name: "trailing comma", claims: `{"sub":"a","exp":%d,}`},
		{name: "leading zero", claims: `{"n":01,"exp":%d}`},
		{name: "text after the object", claims: `{"exp":%d}x`},
		{name: "misspelt literal", claims: `{"a":tru,"exp":%d}`},
		{name: "number out of range", claims: `{"a":1e400,"exp":%d}`},
		{name: "not an object", claims: `["exp",%d]`},
		{name: "alg not pinned", header: `{"alg":"HS384"}`, method: jwt.SigningMethodHS384, claims: `{"exp":%d}`},
		{name: "alg not a string", header: `{"alg":1}`, claims: `{"exp":%d}`},
		{name: "no alg", header: `{"typ":"JWT"}`, claims: `{"exp":%d}`},
		{name: "alg none", header: `{"alg":"none"}`, claims: `{"exp":%d}`},
		{name: "alg given twice", header: `{"alg":"none","alg":"HS256"}`, claims: `{"exp":%d}`, fast: true},
		{name: "kid in header", header: `{"alg":"HS256","kid":"k1"}`, claims: `{"exp":%d}`, fast: true},
		{name: "wrong secret", claims: `{"exp":%d}`, secret: "another-secret-0123456789abcdef-0123"},
		{name: "previous secret", claims: `{"exp":%d}`, secret: "previous-secret-0123456789abcdef-0123"},
	}
	cfg := gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"},
		PreviousSecrets: []gatewayconfig.PreviousSecret{{Secret: "previous-secret-0123456789abcdef-0123", Until: time.Now().Add(time.Hour).Format(time.RFC3339)}}}
	v := newVerifier(t, cfg)
	parserOnly := newVerifier(t, cfg)
	parserOnly.fast = nil
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header, method, secret := tt.header, tt.method, tt.secret
			if header == "" {
				header = hs256
			}
			if method == nil {
				method = jwt.SigningMethodHS256
			}
			if secret == "" {
				secret = testSecret
			}
			claimsText := tt.claims
			if strings.Contains(claimsText, "%d") {
				claimsText = fmt.Sprintf(claimsText, exp)
			}
			token := signRaw(t, method, secret, header, claimsText)
			claims, expiry, err := v.Verify(token)
			wantClaims, wantExpiry, wantErr := parserOnly.Verify(token)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("err = %v, the parser's %v", err, wantErr)
			}
			if !reflect.DeepEqual(claims, wantClaims) || !expiry.Equal(wantExpiry) {
				t.Fatalf("claims %#v expiring %v, the parser's %#v expiring %v", claims, expiry, wantClaims, wantExpiry)
			}
			if _, _, fast := v.fast.verify(token, v.validator); fast != tt.fast {
				t.Fatalf("fast path taken: %v, want %v", fast, tt.fast)
			}
		})
	}
}

// FuzzFlatClaims checks the fast path's JSON against encoding/json: what
// it decodes, encoding/json decodes to the same map.
func FuzzFlatClaims(f *testing.F) {
	for _, seed := range []string{`{}`, `{"sub":"alice","exp":1700000000}`, ` { "a" : -0.5e+3 , "b":true,"c":null,"d":false} `,
		`{"a":"b","a":"c"}`, `{"a":01}`, `{"a":1,}`, `{"a":"\u0041"}`, `{"a":[1]}`, `{"a":1e999}`, `{"a":"x"}x`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		claims, ok := decodeFlatClaims(data)
		if !ok {
			return
		}
		var want map[string]any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%q: decoded to %#v, encoding/json refuses it: %v", data, claims, err)
		}
		if !reflect.DeepEqual(map[string]any(claims), want) {
			t.Fatalf("%q: decoded to %#v, encoding/json to %#v", data, claims, want)
		}
	})
}
