package auth

import (
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const oldSecret = "previous-secret-0123456789abcdef-012345"

func TestPreviousSecretVerifiesUntilItsWindowEnds(t *testing.T) {
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	v := newVerifier(t, gatewayconfig.JWT{
		Secret:          testSecret,
		Algorithms:      []string{"HS256"},
		PreviousSecrets: []gatewayconfig.PreviousSecret{{Secret: oldSecret, Until: until.Format(time.RFC3339)}},
	})
	claims := withClaims(jwt.MapClaims{"exp": until.Add(time.Hour).Unix()})
	oldToken := sign(t, jwt.SigningMethodHS256, []byte(oldSecret), claims, nil)
	newToken := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
	forged := sign(t, jwt.SigningMethodHS256, []byte("not-a-secret-of-this-gateway-at-all"), claims, nil)

	tests := []struct {
		name  string
		at    time.Time
		token string
		want  string // "" when the token verifies
	}{
		{"previous secret inside the window", until.Add(-time.Second), oldToken, ""},
		{"current secret inside the window", until.Add(-time.Second), newToken, ""},
		{"another secret inside the window", until.Add(-time.Second), forged, "token signature is invalid"},
		{"previous secret when the window ends", until, oldToken, "token signature is invalid"},
		{"previous secret after the window", until.Add(time.Minute), oldToken, "token signature is invalid"},
		{"current secret after the window", until.Add(time.Minute), newToken, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v.now = func() time.Time { return tc.at }
			claims, _, err := v.Verify(tc.token)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && claims.Subject() != "alice":
				t.Fatalf("claims = %v", claims)
			case tc.want != "" && (err == nil || gatehouse.AsError(err).Code != gatehouse.CodeUnauthorized || gatehouse.AsError(err).Message != tc.want):
				t.Fatalf("err = %v, want unauthorized: %s", err, tc.want)
			}
		})
	}
}

func TestRotationSignsWithTheCurrentSecret(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{
		Secret:          testSecret,
		Algorithms:      []string{"HS256"},
		PreviousSecrets: []gatewayconfig.PreviousSecret{{Secret: oldSecret, Until: time.Now().Add(time.Hour).Format(time.RFC3339)}},
	})
	token, err := v.Sign(map[string]any{"sub": "bob"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatalf("the token is not signed with the current secret: %v", err)
	}
}

func TestAPreviousSecretWhoseWindowEndedBeforeLoadIsNotKept(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{
		Secret:          testSecret,
		Algorithms:      []string{"HS256"},
		PreviousSecrets: []gatewayconfig.PreviousSecret{{Secret: oldSecret, Until: "2001-01-01T00:00:00Z"}},
	})
	if len(v.previous) != 0 {
		t.Fatalf("kept %d previous secrets whose window is over", len(v.previous))
	}
	old := sign(t, jwt.SigningMethodHS256, []byte(oldSecret), validClaims(), nil)
	if _, _, err := v.Verify(old); err == nil {
		t.Fatal("a token of a secret retired before the gateway started verifies")
	}
}

// hitCount is how many times the JWKS server has served the set.
func (s *jwksServer) hitCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// madeUpKID is a token with a kid the set does not hold, as an attacker
// who wants the gateway to fetch the set sends it: the kid is looked up
// before the signature is checked, so the signature is junk.
func madeUpKID(t *testing.T, i int) string {
	t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":"RS256","typ":"JWT","kid":"made-up-%d"}`, i)))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","exp":4102444800}`))
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString([]byte("junk"))
}

func TestUnknownKIDRefuseFetchesNothingAndAnswersAtOnce(t *testing.T) {
	keys := keysOnce()
	jwks := &jwksServer{}
	jwks.set(rsaJWK("k1", &keys.rsa.PublicKey))
	srv := httptest.NewServer(jwks)
	defer srv.Close()
	v := newVerifier(t, gatewayconfig.JWT{JWKSURL: srv.URL, Algorithms: []string{"RS256"}, JWKSUnknownKID: "refuse"})
	if _, _, err := v.Verify(sign(t, jwt.SigningMethodRS256, keys.rsa, validClaims(), map[string]any{"kid": "k1"})); err != nil {
		t.Fatalf("a token of a known kid: %v", err)
	}
	fetched := jwks.hitCount()

	start := time.Now()
	for i := range 50 {
		_, _, err := v.Verify(madeUpKID(t, i))
		if e := gatehouse.AsError(err); e == nil || e.Code != gatehouse.CodeUnauthorized {
			t.Fatalf("token %d with a made-up kid: err = %v, want unauthorized", i, err)
		}
	}
	if got := jwks.hitCount(); got != fetched {
		t.Fatalf("jwks_unknown_kid: refuse fetched the key set %d more times", got-fetched)
	}
	// Generous: 50 refusals without any wait take milliseconds.
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("50 refusals took %v: a token waited for a fetch", elapsed)
	}
}

func TestUnknownKIDRefetchesAreBoundedUnderAFlood(t *testing.T) {
	keys := keysOnce()
	jwks := &jwksServer{}
	jwks.set(rsaJWK("k1", &keys.rsa.PublicKey))
	srv := httptest.NewServer(jwks)
	defer srv.Close()
	const interval = time.Second
	v := newVerifier(t, gatewayconfig.JWT{JWKSURL: srv.URL, Algorithms: []string{"RS256"},
		JWKSUnknownKID: "refetch", JWKSRefetchInterval: gatewayconfig.Duration(interval)})
	fetchedAtStart := jwks.hitCount()
	goroutinesBefore := runtime.NumGoroutine()

	// 32 attackers send tokens with made-up kids as fast as they are
	// answered, for a few intervals.
	const attackers, flood = 32, 2500 * time.Millisecond
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var longest time.Duration
	start := time.Now()
	for a := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < flood; i++ {
				began := time.Now()
				_, _, err := v.Verify(madeUpKID(t, a*100000+i))
				took := time.Since(began)
				if e := gatehouse.AsError(err); e == nil || e.Code != gatehouse.CodeUnauthorized {
					t.Errorf("a made-up kid: err = %v, want unauthorized", err)
					return
				}
				mu.Lock()
				sent++
				longest = max(longest, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// One fetch at once, then at most one per interval, whatever was sent.
	fetches := jwks.hitCount() - fetchedAtStart
	bound := 1 + int(elapsed/interval) + 1
	t.Logf("%d tokens with made-up kids in %v made %d fetches (bound %d); the longest answer took %v", sent, elapsed.Round(time.Millisecond), fetches, bound, longest.Round(time.Millisecond))
	if fetches > bound {
		t.Fatalf("%d tokens made the gateway fetch the key set %d times in %v, more than %d", sent, fetches, elapsed, bound)
	}
	if sent < 10*attackers {
		t.Fatalf("only %d tokens were answered: made-up kids stall verification", sent)
	}
	// A token waits for the next allowed fetch only when it is due soon.
	if longest > unknownKIDWaitMax+2*time.Second {
		t.Fatalf("a token with a made-up kid waited %v, past the %v bound", longest, unknownKIDWaitMax)
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+5 {
		t.Fatalf("%d goroutines after the flood, %d before", n, goroutinesBefore)
	}

	// A key rotated in is still found once the limiter allows a fetch.
	jwks.set(rsaJWK("k2", &keys.otherRSA.PublicKey))
	rotated := sign(t, jwt.SigningMethodRS256, keys.otherRSA, validClaims(), map[string]any{"kid": "k2"})
	deadline := time.Now().Add(interval + unknownKIDWaitMax)
	for {
		if _, _, err := v.Verify(rotated); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("a token of the rotated-in key is still refused after the flood: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTheUpgradeAcceptsThePreviousSecretOnlyInItsWindow(t *testing.T) {
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	v := newVerifier(t, gatewayconfig.JWT{
		Secret:          testSecret,
		Algorithms:      []string{"HS256"},
		PreviousSecrets: []gatewayconfig.PreviousSecret{{Secret: oldSecret, Until: until.Format(time.RFC3339)}},
	})
	app := upgradeApp(v)
	old := sign(t, jwt.SigningMethodHS256, []byte(oldSecret), withClaims(jwt.MapClaims{"exp": until.Add(time.Hour).Unix()}), nil)
	status := func(at time.Time) int {
		t.Helper()
		v.now = func() time.Time { return at }
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		r.Header.Set("Authorization", "Bearer "+old)
		resp, err := app.Test(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(until.Add(-time.Minute)); got != 200 {
		t.Fatalf("the previous secret's token inside the window: status %d, want 200", got)
	}
	if got := status(until.Add(time.Second)); got != 401 {
		t.Fatalf("the previous secret's token after the window: status %d, want 401", got)
	}
}
