package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Headers of a signed request.
const (
	HeaderTime      = "X-Gatehouse-Node-Time"
	HeaderNonce     = "X-Gatehouse-Node-Nonce"
	HeaderSignature = "X-Gatehouse-Node-Signature"
)

// DefaultWindow is how far a signed request's time may be from the
// verifier's clock, either way: a request older than that is refused as
// stale, and a request seen within it is refused as a replay.
const DefaultWindow = 10 * time.Second

// DefaultMaxNonces bounds the nonces a Verifier remembers: only requests
// whose signature is right are remembered, so only the cluster's own nodes
// fill it, at most at their forwarding rate over twice the window.
const DefaultMaxNonces = 1 << 20

// signatureContext starts every signed message, so that a signature made
// for something else with the same secret never passes.
const signatureContext = "gatehouse-forward-v1\n"

// Why a Verifier refuses a request.
var (
	ErrUnsigned     = errors.New("cluster: request not signed")
	ErrBadSignature = errors.New("cluster: wrong signature")
	ErrStale        = errors.New("cluster: request time outside the window")
	ErrReplayed     = errors.New("cluster: request replayed")
	ErrTooManyNonce = errors.New("cluster: too many requests within the window")
)

// Signer signs the requests a node forwards with the cluster secret: an
// HMAC-SHA256 of the method, the path and query (which carries the
// sid), the time, a random nonce and the body's SHA-256.
type Signer struct {
	key []byte
	now func() time.Time
}

// NewSigner returns a Signer with secret; now is its clock (time.Now when
// nil).
func NewSigner(secret string, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{key: []byte(secret), now: now}
}

// Sign sets the signature headers of req, replacing any it had.
func (s *Signer) Sign(req *fasthttp.Request) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	nonce := hex.EncodeToString(raw[:])
	at := strconv.FormatInt(s.now().UnixMilli(), 10)
	req.Header.Set(HeaderTime, at)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, hex.EncodeToString(signature(s.key, req, at, nonce)))
}

// signature is the HMAC of what a signed request commits to.
func signature(key []byte, req *fasthttp.Request, at, nonce string) []byte {
	body := sha256.Sum256(req.Body())
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signatureContext))
	mac.Write(req.Header.Method())
	mac.Write([]byte{'\n'})
	mac.Write(req.URI().RequestURI())
	mac.Write([]byte{'\n'})
	mac.Write([]byte(at))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(nonce))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(hex.EncodeToString(body[:])))
	return mac.Sum(nil)
}

// Verifier checks the requests that reach a node's internal listener.
type Verifier struct {
	key       []byte
	window    time.Duration
	maxNonces int
	now       func() time.Time

	mu sync.Mutex
	// seen and previous are the nonces of two spans of twice the window:
	// a nonce stays in one of them for as long as its time passes the
	// window check, and the older span is dropped whole.
	seen, previous map[[16]byte]struct{}
	rotated        time.Time
}

// NewVerifier returns a Verifier of requests signed with secret, allowing
// window either way (DefaultWindow when 0); now is its clock (time.Now
// when nil).
func NewVerifier(secret string, window time.Duration, now func() time.Time) *Verifier {
	if window <= 0 {
		window = DefaultWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		key: []byte(secret), window: window, maxNonces: DefaultMaxNonces, now: now,
		seen: make(map[[16]byte]struct{}), previous: make(map[[16]byte]struct{}), rotated: now(),
	}
}

// Verify checks req's signature, its time against the window and its nonce
// against those already seen; a request that passes is remembered, so
// that the same request is refused the second time.
func (v *Verifier) Verify(req *fasthttp.Request) error {
	at := string(req.Header.Peek(HeaderTime))
	nonceHex := string(req.Header.Peek(HeaderNonce))
	sig := req.Header.Peek(HeaderSignature)
	if at == "" || nonceHex == "" || len(sig) == 0 {
		return ErrUnsigned
	}
	var nonce [16]byte
	if n, err := hex.Decode(nonce[:], []byte(nonceHex)); err != nil || n != len(nonce) || len(nonceHex) != 2*len(nonce) {
		return ErrBadSignature
	}
	got := make([]byte, sha256.Size)
	if n, err := hex.Decode(got, sig); err != nil || n != sha256.Size {
		return ErrBadSignature
	}
	if !hmac.Equal(got, signature(v.key, req, at, nonceHex)) {
		return ErrBadSignature
	}
	millis, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	now := v.now()
	if d := now.Sub(time.UnixMilli(millis)); d > v.window || d < -v.window {
		return ErrStale
	}
	return v.remember(nonce, now)
}

// remember records nonce, refusing one already seen.
func (v *Verifier) remember(nonce [16]byte, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch elapsed := now.Sub(v.rotated); {
	case elapsed >= 4*v.window:
		// Both spans are over.
		v.previous, v.seen = make(map[[16]byte]struct{}), make(map[[16]byte]struct{})
		v.rotated = now
	case elapsed >= 2*v.window:
		v.previous, v.seen = v.seen, make(map[[16]byte]struct{})
		v.rotated = now
	}
	if _, ok := v.seen[nonce]; ok {
		return ErrReplayed
	}
	if _, ok := v.previous[nonce]; ok {
		return ErrReplayed
	}
	if len(v.seen)+len(v.previous) >= v.maxNonces {
		return ErrTooManyNonce
	}
	v.seen[nonce] = struct{}{}
	return nil
}
