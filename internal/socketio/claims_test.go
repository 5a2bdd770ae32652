package socketio

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func unindexedSocket() *Socket { return &Socket{ns: newNamespaceIndex("/")} }

// Claims kept as JSON text read, one by one and whole, as encoding/json
// decodes them, and stay text until read whole.
func TestClaimsJSONReadAsDecoded(t *testing.T) {
	texts := []string{
		`{"sub":"u1","username":"User 1","exp":1767225600}`,
		`{"sub":"first","sub":"last","exp":1.5e9}`,
		`{"\u0073ub":"escaped key","exp":"not a number"}`,
		`{"sub":42,"role":["a","b"],"nested":{"sub":"inner"}}`,
		`{"sub":"caf\u00e9 \"q\"","aud":null}`,
		` { "sub" : "spaced" } `,
		`{}`,
	}
	for _, text := range texts {
		var want gatehouse.Claims
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatal(err)
		}
		s := unindexedSocket()
		s.SetClaimsJSON([]byte(text))
		for _, name := range []string{"sub", "exp", "role", "nested", "aud", "absent"} {
			if got := s.Claim(name); !reflect.DeepEqual(got, want[name]) {
				t.Errorf("%s: Claim(%q) = %#v, decoded %#v", text, name, got, want[name])
			}
			wantV, wantOK := want[name]
			if got, ok := s.LookupClaim(name); ok != wantOK || !reflect.DeepEqual(got, wantV) {
				t.Errorf("%s: LookupClaim(%q) = %#v, %v; decoded %#v, %v", text, name, got, ok, wantV, wantOK)
			}
		}
		if got := s.Subject(); got != want.Subject() {
			t.Errorf("%s: Subject() = %q, decoded %q", text, got, want.Subject())
		}
		if s.claims.Load().text == nil {
			t.Errorf("%s: reading single claims decoded them all", text)
		}
		if got := s.Claims(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Claims() = %#v, decoded %#v", text, got, want)
		}
		if s.claims.Load().text != nil {
			t.Errorf("%s: the text is kept beside the decoded claims", text)
		}
	}
}

// Every caller gets the one map decoded, however many decode at once, so
// that what one of them stores in it the others see.
func TestClaimsJSONDecodedOnceForAll(t *testing.T) {
	s := unindexedSocket()
	s.SetClaimsJSON([]byte(`{"sub":"u1","exp":1767225600}`))
	maps := make([]gatehouse.Claims, 16)
	var wg sync.WaitGroup
	for i := range maps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			maps[i] = s.Claims()
		}()
	}
	wg.Wait()
	maps[0]["seen"] = true
	for i, m := range maps {
		if m["seen"] != true {
			t.Fatalf("caller %d got a map of its own", i)
		}
	}
	if s.Claims()["seen"] != true {
		t.Fatal("a later call got another map")
	}
}

// SetClaims after SetClaimsJSON (a token refresh with an authorizer) wins,
// and nil means no claims again.
func TestClaimsReplacedWhole(t *testing.T) {
	s := unindexedSocket()
	s.SetClaimsJSON([]byte(`{"sub":"u1"}`))
	s.SetClaims(gatehouse.Claims{"sub": "u2"})
	if s.Subject() != "u2" || s.Claim("sub") != "u2" || s.Claims().Subject() != "u2" {
		t.Fatalf("claims after SetClaims: %v", s.Claims())
	}
	s.SetClaims(nil)
	if s.Claims() != nil || s.Claim("sub") != nil || s.Subject() != "" {
		t.Fatalf("claims after SetClaims(nil): %v", s.Claims())
	}
}

// A socket whose claims are text is listed under its subject, and moves
// to the new subject when they are replaced, without being decoded.
func TestSocketsOfUserFollowsClaimsJSON(t *testing.T) {
	h := newTestHooks("/")
	h.connect = func(_ context.Context, s *Socket, _ json.RawMessage) error {
		s.SetClaimsJSON([]byte(`{"sub":"alice","exp":1767225600}`))
		return nil
	}
	srv := newTestServer(h, Options{})
	tc := connect(t, srv)
	a := tc.join(h, "/")
	if got := srv.SocketsOfUser("", "alice"); len(got) != 1 || got[0] != a {
		t.Fatalf("alice: %v", got)
	}
	a.SetClaimsJSON([]byte(`{"sub":"bob"}`))
	if got := srv.SocketsOfUser("", "bob"); len(got) != 1 || got[0] != a {
		t.Fatalf("bob: %v", got)
	}
	if n := len(srv.SocketsOfUser("", "alice")); n != 0 {
		t.Fatalf("alice keeps %d sockets after a claims change", n)
	}
	if a.claims.Load().text == nil {
		t.Fatal("indexing the socket decoded its claims")
	}
}
