package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// signPayload signs payload, any bytes, as the claims segment of an HS256
// token.
func signPayload(t testing.TB, payload string) string {
	t.Helper()
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func sameError(got error, want *gatehouse.Error) bool {
	var coded *gatehouse.Error
	if !errors.As(got, &coded) {
		return false
	}
	return coded.Code == want.Code && coded.Message == want.Message
}

func decodeText(t testing.TB, text []byte) gatehouse.Claims {
	t.Helper()
	var claims gatehouse.Claims
	if err := json.Unmarshal(text, &claims); err != nil {
		t.Fatalf("claims text %s: %v", text, err)
	}
	return claims
}

// agreementVerifiers are configs that read every registered claim the
// validator can: exp required or not, iss, aud, a leeway.
func agreementVerifiers(t testing.TB, now time.Time) []*Verifier {
	noExp := false
	cfgs := []gatewayconfig.JWT{
		{Secret: testSecret, Algorithms: []string{"HS256"}},
		{Secret: testSecret, Algorithms: []string{"HS256"}, RequireExp: &noExp},
		{Secret: testSecret, Algorithms: []string{"HS256"}, Issuer: "https://id.example", Audience: "chat"},
		{Secret: testSecret, Algorithms: []string{"HS256"}, Issuer: "https://id.example", Audience: "chat", RequireExp: &noExp,
			Leeway: gatewayconfig.Duration(time.Minute)},
	}
	var out []*Verifier
	for _, cfg := range cfgs {
		v, err := NewVerifier(context.Background(), &cfg, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		v.now = func() time.Time { return now }
		out = append(out, v)
	}
	return out
}

// checkAgreement verifies token with Verify and VerifyJSON: both refuse it
// with the same code and message, or both accept it with the same claims.
func checkAgreement(t testing.TB, v *Verifier, token string) {
	t.Helper()
	claims, _, err := v.Verify(token)
	text, jsonErr := v.VerifyJSON(token)
	if err != nil {
		if !sameError(jsonErr, gatehouse.AsError(err)) {
			t.Fatalf("Verify refused %s with %v; VerifyJSON: %s, %v", token, err, text, jsonErr)
		}
		return
	}
	if jsonErr != nil {
		t.Fatalf("Verify accepted %s (%v); VerifyJSON refused it: %v", token, claims, jsonErr)
	}
	if decoded := decodeText(t, text); !reflect.DeepEqual(decoded, claims) {
		t.Fatalf("VerifyJSON's text %s decodes to %v; Verify returned %v", text, decoded, claims)
	}
}

// VerifyJSON, which reads the registered claims from the text, accepts and
// refuses what Verify (jwt.MapClaims) does, with the same error, whatever
// the types, spelling and repetition of the claims.
func TestVerifyJSONAgreesWithVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	later, earlier := now.Add(time.Hour).Unix(), now.Add(-time.Hour).Unix()
	payloads := []string{
		`{"sub":"alice","exp":%[1]d}`,
		`{"sub":"alice","exp":%[2]d}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":"chat"}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":["billing","chat"]}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":["billing",1]}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":7}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":null}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":""}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":[""]}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://id.example","aud":[]}`,
		`{"sub":"alice","exp":%[1]d,"iss":7,"aud":"chat"}`,
		`{"sub":"alice","exp":%[1]d,"iss":null,"aud":"chat"}`,
		`{"sub":"alice","exp":%[1]d,"iss":"https://evil.example","aud":"billing"}`,
		`{"sub":"alice","exp":%[2]d,"iss":"https://evil.example","aud":"chat"}`,
		`{"sub":"alice","exp":%[1]d,"\u0069ss":"https://id.example","a\u0075d":"chat"}`,
		`{"sub":"alice","exp":%[1]d,"ISS":"https://id.example","Aud":"chat"}`,
		`{"sub":"alice","EXP":%[1]d}`,
		`{"sub":"alice","Exp":%[2]d,"exp":%[1]d}`,
		`{"sub":"alice","exp":%[1]d,"exp":%[2]d}`,
		`{"sub":"alice","exp":%[2]d,"exp":%[1]d}`,
		`{"sub":"alice","\u0065xp":%[2]d}`,
		`{"sub":"alice","exp":"%[1]d"}`,
		`{"sub":"alice","exp":null}`,
		`{"sub":"alice","exp":true}`,
		`{"sub":"alice","exp":[%[1]d]}`,
		`{"sub":"alice","exp":{"t":%[1]d}}`,
		`{"sub":"alice","exp":0}`,
		`{"sub":"alice","exp":-0}`,
		`{"sub":"alice","exp":0.0}`,
		`{"sub":"alice","exp":1e-10}`,
		`{"sub":"alice","exp":1e-400}`,
		`{"sub":"alice","exp":1e400}`,
		`{"sub":"alice","exp":%[1]d.75}`,
		`{"sub":"alice","exp":%[1]d e0}`,
		`{"sub":"alice","exp":1.8000036e9}`,
		`{"sub":"alice","exp":-1}`,
		`{"sub":"alice","exp":%[1]d,"nbf":%[1]d}`,
		`{"sub":"alice","exp":%[1]d,"nbf":%[2]d}`,
		`{"sub":"alice","exp":%[1]d,"nbf":"soon"}`,
		`{"sub":"alice","exp":%[1]d,"nbf":1e400}`,
		`{"sub":"alice","exp":%[1]d,"nbf":0}`,
		`{"sub":"alice","exp":%[2]d,"nbf":%[1]d}`,
		`{"sub":42,"exp":%[1]d,"iat":"yesterday","jti":{"a":[1,2]}}`,
		`{"sub":"alice","exp":%[1]d,"name":"Zo\u00eb \"Z\"","groups":["a","b"],"n":1.5,"meta":{"exp":1}}`,
		` { "sub" : "alice" , "exp" : %[1]d } `,
		`{}`,
		`null`,
		`[]`,
		`[{"exp":%[1]d}]`,
		`"exp"`,
		`%[1]d`,
		`true`,
		`{"sub":"alice","exp":%[1]d`,
		`{"sub":"alice","exp":%[1]d}{}`,
		`{"sub":"alice",exp:%[1]d}`,
		"{\"sub\":\"al\xffice\",\"exp\":%[1]d}",
		"",
	}
	verifiers := agreementVerifiers(t, now)
	for _, p := range payloads {
		payload := strings.ReplaceAll(fmt.Sprintf(p, later, earlier), " e0", "e0")
		token := signPayload(t, payload)
		for i, v := range verifiers {
			t.Run(fmt.Sprintf("%d/%s", i, payload), func(t *testing.T) { checkAgreement(t, v, token) })
		}
	}
}

// A payload of null is no claims for both: VerifyJSON's text is an empty
// object.
func TestVerifyJSONOfANullPayloadIsAnEmptyObject(t *testing.T) {
	noExp := false
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, RequireExp: &noExp})
	text, err := v.VerifyJSON(signPayload(t, "null"))
	if err != nil || string(text) != "{}" {
		t.Fatalf("VerifyJSON(null payload) = %q, %v; want {}", text, err)
	}
}

// The text VerifyJSON returns is the parser's own buffer, kept: verifying
// other tokens afterwards leaves it as it was.
func TestVerifyJSONTextOutlivesTheNextVerification(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}})
	exp := time.Now().Add(time.Hour).Unix()
	payload := fmt.Sprintf(`{"sub":"alice","exp":%d,"role":"admin"}`, exp)
	first, err := v.VerifyJSON(signPayload(t, payload))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		other := fmt.Sprintf(`{"sub":"user-%03d","exp":%d,"role":"guest"}`, i, exp)
		if _, err := v.VerifyJSON(signPayload(t, other)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.Verify(signPayload(t, other)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(first, []byte(payload)) {
		t.Fatalf("first token's text is now %q, want %q", first, payload)
	}
}

// FuzzVerifyJSONAgreesWithVerify signs any payload and checks that both
// verifications give the same answer.
func FuzzVerifyJSONAgreesWithVerify(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"a","exp":1800003600}`, `{"exp":"1800003600"}`, `{"EXP":1,"exp":1800003600,"aud":["chat",1]}`,
		`{"iss":"https://id.example","aud":"chat","exp":1800003600,"nbf":1799999999.5}`, `null`, `[1]`,
		`{"exp":1800003600,"x":1e400}`, `{"\u0065xp":0,"nbf":-0}`,
	} {
		f.Add(seed)
	}
	verifiers := agreementVerifiers(f, time.Unix(1_800_000_000, 0))
	f.Fuzz(func(t *testing.T, payload string) {
		var v any
		if json.Unmarshal([]byte(payload), &v) != nil && json.Valid([]byte(payload)) {
			// A number beyond float64's range in a claim the validator does
			// not read: the one token the two tell apart (see VerifyJSON).
			return
		}
		token := signPayload(t, payload)
		for _, v := range verifiers {
			checkAgreement(t, v, token)
		}
	})
}

func BenchmarkVerifyJSONHS256(b *testing.B) {
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
		if _, err := v.VerifyJSON(token); err != nil {
			b.Fatal(err)
		}
	}
}
