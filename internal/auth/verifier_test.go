package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

// testKeys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	rsa      *rsa.PrivateKey
	otherRSA *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	rsaPEM   []byte // PKIX "PUBLIC KEY"
}

var keysOnce = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	must(err)
	k.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return k
})

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func writePEM(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkixBlock(t *testing.T, pub crypto.PublicKey) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PUBLIC KEY", Bytes: der}
}

func newVerifier(t *testing.T, cfg gatewayconfig.JWT) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Lookup == nil {
		// What the config loader fills in when lookup is not written.
		cfg.Lookup = gatewayconfig.DefaultJWTLookup()
	}
	v, err := NewVerifier(ctx, &cfg, quietLogger())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	token := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		token.Header[k] = v
	}
	s, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "username": "Alice", "exp": time.Now().Add(time.Hour).Unix()}
}

func withClaims(extra jwt.MapClaims, drop ...string) jwt.MapClaims {
	c := validClaims()
	for k, v := range extra {
		c[k] = v
	}
	for _, k := range drop {
		delete(c, k)
	}
	return c
}

// tamper replaces the token's payload with other claims, keeping header and
// signature.
func tamper(t *testing.T, token string, claims jwt.MapClaims) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestVerifyRefusesAttacks(t *testing.T) {
	keys := keysOnce()
	hs := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}})
	rsaFile := writePEM(t, "rsa.pem", pkixBlock(t, &keys.rsa.PublicKey))
	rs := newVerifier(t, gatewayconfig.JWT{PublicKeys: []string{rsaFile}, Algorithms: []string{"RS256"}})
	mixed := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, PublicKeys: []string{rsaFile}, Algorithms: []string{"RS256", "HS256"}})
	strict := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Issuer: "https://id.example", Audience: "chat"})

	valid := sign(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(), nil)
	tampered := tamper(t, valid, withClaims(jwt.MapClaims{"role": "admin"}))
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(), nil)
	noneUpper := tamper(t, none, validClaims())
	noneUpper = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"NONE","typ":"JWT"}`)) + noneUpper[strings.Index(noneUpper, "."):]
	huge := sign(t, jwt.SigningMethodHS256, []byte(testSecret), withClaims(jwt.MapClaims{"pad": strings.Repeat("x", 9000)}), nil)
	good := func(extra jwt.MapClaims, drop ...string) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), withClaims(extra, drop...), nil)
	}

	tests := []struct {
		name     string
		verifier *Verifier
		token    string
		code     gatehouse.Code
		message  string
	}{
		{"alg none", hs, none, gatehouse.CodeUnauthorized, "algorithm none, which is not allowed"},
		{"alg NONE in capitals", hs, noneUpper, gatehouse.CodeUnauthorized, "which is not allowed"},
		{"HS/RS confusion: HS256 signed with the RSA public key", rs,
			sign(t, jwt.SigningMethodHS256, keys.rsaPEM, validClaims(), nil), gatehouse.CodeUnauthorized, "algorithm HS256, which is not allowed"},
		{"HS/RS confusion with both algorithms allowed", mixed,
			sign(t, jwt.SigningMethodHS256, keys.rsaPEM, validClaims(), nil), gatehouse.CodeUnauthorized, "token signature is invalid"},
		{"algorithm outside the pinned list", hs,
			sign(t, jwt.SigningMethodHS512, []byte(testSecret), validClaims(), nil), gatehouse.CodeUnauthorized, "token uses algorithm HS512, which is not allowed"},
		{"wrong HMAC secret", hs,
			sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), validClaims(), nil), gatehouse.CodeUnauthorized, "token signature is invalid"},
		{"wrong RSA key", rs,
			sign(t, jwt.SigningMethodRS256, keys.otherRSA, validClaims(), nil), gatehouse.CodeUnauthorized, "token signature is invalid"},
		{"expired", hs, good(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}), gatehouse.CodeTokenExpired, "token has expired"},
		{"not yet valid", hs, good(jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}), gatehouse.CodeUnauthorized, "token is not valid yet"},
		{"wrong issuer", strict, good(jwt.MapClaims{"iss": "https://evil.example", "aud": "chat"}), gatehouse.CodeUnauthorized, "issuer is not accepted"},
		{"missing issuer", strict, good(jwt.MapClaims{"aud": "chat"}), gatehouse.CodeUnauthorized, "no iss claim"},
		{"wrong audience", strict, good(jwt.MapClaims{"iss": "https://id.example", "aud": "billing"}), gatehouse.CodeUnauthorized, "audience is not accepted"},
		{"wrong issuer beats expiry", strict,
			good(jwt.MapClaims{"iss": "https://evil.example", "aud": "chat", "exp": time.Now().Add(-time.Hour).Unix()}), gatehouse.CodeUnauthorized, "issuer"},
		{"tampered payload", hs, tampered, gatehouse.CodeUnauthorized, "token signature is invalid"},
		{"over 8 KiB", hs, huge, gatehouse.CodeUnauthorized, "token is larger than 8192 bytes"},
		{"garbage", hs, "not-a-token", gatehouse.CodeUnauthorized, "token is malformed"},
		{"three garbage segments", hs, "a.b.c", gatehouse.CodeUnauthorized, "token is malformed"},
		{"empty", hs, "", gatehouse.CodeUnauthorized, "token is missing"},
		{"missing exp", hs, good(nil, "exp"), gatehouse.CodeUnauthorized, "token has no exp claim"},
		{"exp of the wrong type", hs, good(jwt.MapClaims{"exp": "tomorrow"}), gatehouse.CodeUnauthorized, "wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, _, err := tt.verifier.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %v", claims)
			}
			coded, ok := err.(*gatehouse.Error)
			if !ok {
				t.Fatalf("error is %T (%v), want *gatehouse.Error", err, err)
			}
			if coded.Code != tt.code || !strings.Contains(coded.Message, tt.message) {
				t.Fatalf("error = %s: %s; want %s containing %q", coded.Code, coded.Message, tt.code, tt.message)
			}
			if len(tt.token) > 20 && strings.Contains(coded.Message, tt.token[len(tt.token)-20:]) {
				t.Fatalf("error message echoes the token: %q", coded.Message)
			}
			if text, err := tt.verifier.VerifyJSON(tt.token); !sameError(err, coded) {
				t.Fatalf("VerifyJSON = %s, %v; Verify refused with %v", text, err, coded)
			}
		})
	}
}

func TestVerifyAcceptsValidTokens(t *testing.T) {
	keys := keysOnce()
	rsaFile := writePEM(t, "rsa.pem", pkixBlock(t, &keys.rsa.PublicKey))
	pkcs1File := writePEM(t, "rsa1.pem", &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&keys.rsa.PublicKey)})
	ecFile := writePEM(t, "ec.pem", pkixBlock(t, &keys.ec.PublicKey))
	edFile := writePEM(t, "ed.pem", pkixBlock(t, keys.ed.Public()))
	certFile := writePEM(t, "cert.pem", selfSignedCert(t, keys.ec))
	both := writePEM(t, "both.pem", pkixBlock(t, &keys.otherRSA.PublicKey), pkixBlock(t, &keys.rsa.PublicKey))
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	claims := func() jwt.MapClaims { return jwt.MapClaims{"sub": "alice", "role": "admin", "exp": exp.Unix()} }
	noExp := false

	tests := []struct {
		name  string
		cfg   gatewayconfig.JWT
		token func(t *testing.T) string
	}{
		{"HS256", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(), nil) }},
		{"HS512 among several", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256", "HS512"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, []byte(testSecret), claims(), nil) }},
		{"RS256 with a PKIX key", gatewayconfig.JWT{PublicKeys: []string{rsaFile}, Algorithms: []string{"RS256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, keys.rsa, claims(), nil) }},
		{"RS256 with a PKCS1 key", gatewayconfig.JWT{PublicKeys: []string{pkcs1File}, Algorithms: []string{"RS256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, keys.rsa, claims(), nil) }},
		{"RS256 with the second key of a file", gatewayconfig.JWT{PublicKeys: []string{both}, Algorithms: []string{"RS256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, keys.rsa, claims(), nil) }},
		{"PS256", gatewayconfig.JWT{PublicKeys: []string{rsaFile}, Algorithms: []string{"PS256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodPS256, keys.rsa, claims(), nil) }},
		{"ES256", gatewayconfig.JWT{PublicKeys: []string{ecFile}, Algorithms: []string{"ES256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, keys.ec, claims(), nil) }},
		{"ES256 with a certificate", gatewayconfig.JWT{PublicKeys: []string{certFile}, Algorithms: []string{"ES256"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, keys.ec, claims(), nil) }},
		{"EdDSA", gatewayconfig.JWT{PublicKeys: []string{edFile}, Algorithms: []string{"EdDSA"}},
			func(t *testing.T) string { return sign(t, jwt.SigningMethodEdDSA, keys.ed, claims(), nil) }},
		{"expired within the leeway", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Leeway: gatewayconfig.Duration(time.Minute)},
			func(t *testing.T) string {
				c := claims()
				c["exp"] = time.Now().Add(-10 * time.Second).Unix()
				return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil)
			}},
		{"issuer and audience", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Issuer: "https://id.example", Audience: "chat"},
			func(t *testing.T) string {
				c := claims()
				c["iss"], c["aud"] = "https://id.example", []string{"billing", "chat"}
				return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil)
			}},
		{"no exp when not required", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, RequireExp: &noExp},
			func(t *testing.T) string {
				c := claims()
				delete(c, "exp")
				return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.cfg)
			got, gotExp, err := v.Verify(tt.token(t))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject() != "alice" || got["role"] != "admin" {
				t.Fatalf("claims = %v", got)
			}
			if _, hasExp := got["exp"]; hasExp && gotExp.IsZero() {
				t.Fatalf("exp claim present but expiry is zero")
			}
			if tt.name == "HS256" && !gotExp.Equal(exp) {
				t.Fatalf("expiry = %v, want %v", gotExp, exp)
			}
			text, err := v.VerifyJSON(tt.token(t))
			if err != nil {
				t.Fatalf("VerifyJSON: %v", err)
			}
			if decoded := decodeText(t, text); !reflect.DeepEqual(decoded, got) {
				t.Fatalf("VerifyJSON's text decodes to %v, Verify returned %v", decoded, got)
			}
		})
	}
}

func selfSignedCert(t *testing.T, key *ecdsa.PrivateKey) *pem.Block {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}
}

func TestNewVerifierRefusesBadConfigs(t *testing.T) {
	keys := keysOnce()
	ecFile := writePEM(t, "ec.pem", pkixBlock(t, &keys.ec.PublicKey))
	der, err := x509.MarshalPKCS8PrivateKey(keys.ec)
	if err != nil {
		t.Fatal(err)
	}
	privateFile := writePEM(t, "private.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tests := []struct {
		name string
		cfg  gatewayconfig.JWT
		want string
	}{
		{"no algorithms", gatewayconfig.JWT{Secret: testSecret}, "list the accepted algorithms"},
		{"none", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"none"}}, `"none" is never accepted`},
		{"unknown algorithm", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS999"}}, `unknown algorithm "HS999"`},
		{"HS256 without a secret", gatewayconfig.JWT{PublicKeys: []string{ecFile}, Algorithms: []string{"HS256"}}, "HS256 needs a secret"},
		{"RS256 without an RSA key", gatewayconfig.JWT{PublicKeys: []string{ecFile}, Algorithms: []string{"RS256"}}, "RS256 needs a public key"},
		{"ES384 with a P-256 key", gatewayconfig.JWT{PublicKeys: []string{ecFile}, Algorithms: []string{"ES384"}}, "ES384 needs a public key"},
		{"private key file", gatewayconfig.JWT{PublicKeys: []string{privateFile}, Algorithms: []string{"ES256"}}, "public key only"},
		{"missing key file", gatewayconfig.JWT{PublicKeys: []string{"/nonexistent/key.pem"}, Algorithms: []string{"ES256"}}, "no such file"},
		{"bad lookup", gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Lookup: []string{"body:token"}}, "header:NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(context.Background(), &tt.cfg, quietLogger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewVerifier error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS384"}, Issuer: "gatehouse", Audience: "chat"})
	token, err := v.Sign(map[string]any{"sub": "bob", "username": "Bob"}, time.Hour)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	claims, exp, err := v.Verify(token)
	if err != nil {
		t.Fatalf("Verify(Sign(...)): %v", err)
	}
	if claims.Subject() != "bob" || claims["iss"] != "gatehouse" || time.Until(exp) < 59*time.Minute {
		t.Fatalf("claims = %v, exp = %v", claims, exp)
	}

	keys := keysOnce()
	rs := newVerifier(t, gatewayconfig.JWT{PublicKeys: []string{writePEM(t, "rsa.pem", pkixBlock(t, &keys.rsa.PublicKey))}, Algorithms: []string{"RS256"}})
	if _, err := rs.Sign(map[string]any{"sub": "bob"}, time.Hour); err == nil || !strings.Contains(err.Error(), "sign tokens with your identity provider") {
		t.Fatalf("Sign with public keys: err = %v", err)
	}
}

// jwksServer serves a JWK Set whose keys a test can replace.
type jwksServer struct {
	mu   sync.Mutex
	keys []map[string]string
	hits int
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
}

func (s *jwksServer) set(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func TestVerifyWithJWKSFollowsKeyRotation(t *testing.T) {
	keys := keysOnce()
	jwks := &jwksServer{}
	jwks.set(rsaJWK("k1", &keys.rsa.PublicKey))
	srv := httptest.NewServer(jwks)
	defer srv.Close()

	v := newVerifier(t, gatewayconfig.JWT{JWKSURL: srv.URL, Algorithms: []string{"RS256"}})
	tokenK1 := sign(t, jwt.SigningMethodRS256, keys.rsa, validClaims(), map[string]any{"kid": "k1"})
	if _, _, err := v.Verify(tokenK1); err != nil {
		t.Fatalf("token signed with k1: %v", err)
	}

	// The provider rotates to k2: a token with the new kid makes the
	// verifier fetch the set again, and k1 is gone with the old set.
	jwks.set(rsaJWK("k2", &keys.otherRSA.PublicKey))
	tokenK2 := sign(t, jwt.SigningMethodRS256, keys.otherRSA, validClaims(), map[string]any{"kid": "k2"})
	if _, _, err := v.Verify(tokenK2); err != nil {
		t.Fatalf("token signed with rotated k2: %v", err)
	}
	if _, _, err := v.Verify(tokenK1); err == nil {
		t.Fatalf("token signed with the retired k1 still verifies")
	}

	// A made-up kid does not trigger another download so soon.
	jwks.mu.Lock()
	hits := jwks.hits
	jwks.mu.Unlock()
	forged := sign(t, jwt.SigningMethodRS256, keys.otherRSA, validClaims(), map[string]any{"kid": "made-up"})
	_, _, err := v.Verify(forged)
	if gatehouse.AsError(err).Code != gatehouse.CodeUnauthorized {
		t.Fatalf("token with an unknown kid: err = %v", err)
	}
	jwks.mu.Lock()
	defer jwks.mu.Unlock()
	if jwks.hits != hits {
		t.Fatalf("unknown kid fetched the key set again (%d -> %d downloads)", hits, jwks.hits)
	}

	// A token signed with the right key but claiming HS256 is refused.
	hsForged := sign(t, jwt.SigningMethodHS256, keys.rsaPEM, validClaims(), map[string]any{"kid": "k2"})
	if _, _, err := v.Verify(hsForged); err == nil || !strings.Contains(err.Error(), "HS256, which is not allowed") {
		t.Fatalf("HS256 token against a JWKS verifier: err = %v", err)
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	v, err := NewVerifier(context.Background(), &gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}}, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	token, err := v.Sign(map[string]any{"sub": "alice"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}
