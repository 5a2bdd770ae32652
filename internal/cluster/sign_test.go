package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func signedRequest(signer *Signer) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod("POST")
	req.SetRequestURI("/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAbbbbbbbbbbbbbbbbbbbb")
	req.SetBodyString(`42["chat","hi"]`)
	signer.Sign(req)
	return req
}

func TestVerifierRefusesWhatTheSecretDidNotSignAsItWasSent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	tests := []struct {
		name   string
		signer *Signer
		change func(*fasthttp.Request)
		want   error
	}{
		{"signed", NewSigner(testSecret, clock), func(*fasthttp.Request) {}, nil},
		{"unsigned", NewSigner(testSecret, clock), func(r *fasthttp.Request) { r.Header.Del(HeaderSignature) }, ErrUnsigned},
		{"another secret", NewSigner(testSecret+"x", clock), func(*fasthttp.Request) {}, ErrBadSignature},
		{"method changed", NewSigner(testSecret, clock), func(r *fasthttp.Request) { r.Header.SetMethod("GET") }, ErrBadSignature},
		{"sid changed", NewSigner(testSecret, clock), func(r *fasthttp.Request) {
			r.SetRequestURI("/socket.io/?EIO=4&transport=polling&sid=BBBBBBBBbbbbbbbbbbbbbbbbbbbb")
		}, ErrBadSignature},
		{"body changed", NewSigner(testSecret, clock), func(r *fasthttp.Request) { r.SetBodyString(`42["chat","evil"]`) }, ErrBadSignature},
		{"time changed", NewSigner(testSecret, clock), func(r *fasthttp.Request) { r.Header.Set(HeaderTime, "1700000001000") }, ErrBadSignature},
		{"nonce not hex", NewSigner(testSecret, clock), func(r *fasthttp.Request) { r.Header.Set(HeaderNonce, "zz") }, ErrBadSignature},
		{"too old", NewSigner(testSecret, func() time.Time { return now.Add(-11 * time.Second) }), func(*fasthttp.Request) {}, ErrStale},
		{"from the future", NewSigner(testSecret, func() time.Time { return now.Add(11 * time.Second) }), func(*fasthttp.Request) {}, ErrStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(testSecret, 10*time.Second, clock)
			req := signedRequest(tc.signer)
			tc.change(req)
			if err := v.Verify(req); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifierRefusesAReplayForAsLongAsItsTimePassesTheWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	v := NewVerifier(testSecret, 10*time.Second, clock)
	req := signedRequest(NewSigner(testSecret, clock))
	if err := v.Verify(req); err != nil {
		t.Fatal(err)
	}
	// Every second through the window and past it: first a replay, then
	// stale, never accepted again; other requests go on being accepted,
	// so the nonces rotate meanwhile.
	for step := range 25 {
		now = now.Add(time.Second)
		err := v.Verify(req)
		if err == nil {
			t.Fatalf("replay accepted %d s later", step+1)
		}
		if want := ErrReplayed; step+1 <= 10 && !errors.Is(err, want) {
			t.Fatalf("replay %d s later: %v, want %v", step+1, err, want)
		}
		if err := v.Verify(signedRequest(NewSigner(testSecret, clock))); err != nil {
			t.Fatalf("fresh request %d s later: %v", step+1, err)
		}
	}
}

func TestVerifierRemembersAtMostItsBoundOfNonces(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	v := NewVerifier(testSecret, 10*time.Second, clock)
	v.maxNonces = 100
	signer := NewSigner(testSecret, clock)
	for i := range 100 {
		if err := v.Verify(signedRequest(signer)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := v.Verify(signedRequest(signer)); !errors.Is(err, ErrTooManyNonce) {
		t.Fatalf("request over the bound: %v, want %v", err, ErrTooManyNonce)
	}
	// Two rotations later the old nonces are gone.
	now = now.Add(41 * time.Second)
	if err := v.Verify(signedRequest(signer)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestTagsAreDistinctAndTaggedIDsGiveThemBack(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tag := NewTag()
		if len(tag) != TagLen || seen[tag] {
			t.Fatalf("tag %q: length %d or drawn twice", tag, len(tag))
		}
		seen[tag] = true
		if got, ok := TagOf(tag + "01234567890123456789"); !ok || got != tag {
			t.Fatalf("TagOf = %q %v, want %q", got, ok, tag)
		}
	}
	if _, ok := TagOf("short"); ok {
		t.Fatal("TagOf took a short id")
	}
}
