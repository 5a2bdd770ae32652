package auth

import (
	"crypto/hmac"
	"encoding/base64"
	"hash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// hmacFast checks the common token without golang-jwt's parser: signed
// with the current HMAC secret by a pinned algorithm, its header and claims
// flat JSON objects of plain strings, numbers, booleans and nulls. The
// parser allocates some forty short-lived objects per token (the split,
// three base64 decodings, the header's map, encoding/json's decoding state,
// a new HMAC with its two hashes), in the size classes of what an open
// connection keeps: once collected, their slots stay as holes in the spans
// of the connections that stay. Here the buffers and the HMACs are reused
// and only the claims map and its values are allocated.
//
// The fast path only ever accepts. A token it cannot read, or whose
// signature or claims do not check, goes through the parser as before,
// which decides and words the refusal. What it accepts the parser accepts
// too: its JSON is a strict subset (no escapes, nothing outside printable
// ASCII in strings, no nesting), decoded to what encoding/json makes
// (float64 numbers, the last of duplicate keys), and the claims are checked
// by the same jwt.Validator.
type hmacFast struct {
	secret []byte
	// algs are the pinned HMAC algorithms, news their hashes.
	algs []string
	news []func() hash.Hash
	// scratch holds *hmacScratch.
	scratch sync.Pool
}

// hmacScratch is one token's worth of reusable state.
type hmacScratch struct {
	macs []hash.Hash // by index in hmacFast.algs, made when first needed
	sum  [64]byte
	sig  [64]byte
	seg  []byte
}

// maxFastSegment bounds the decoded header or claims the scratch keeps
// a buffer for; longer ones take the parser.
const maxFastSegment = 4096

// newHMACFast returns the fast path for the verifier's pinned HMAC
// algorithms, or nil when it has none or no secret.
func newHMACFast(secret []byte, algorithms []string, allowed map[string]keyFamily) *hmacFast {
	if len(secret) == 0 {
		return nil
	}
	f := &hmacFast{secret: secret}
	for _, alg := range algorithms {
		method, ok := jwt.GetSigningMethod(alg).(*jwt.SigningMethodHMAC)
		if allowed[alg] != familyHMAC || !ok || !method.Hash.Available() {
			continue
		}
		f.algs = append(f.algs, alg)
		f.news = append(f.news, method.Hash.New)
	}
	if len(f.algs) == 0 {
		return nil
	}
	f.scratch.New = func() any { return &hmacScratch{macs: make([]hash.Hash, len(f.algs))} }
	return f
}

// verify returns the token's claims, validated by validator, their expiry
// and true; or false when the parser is to decide.
func (f *hmacFast) verify(token string, validator *jwt.Validator) (jwt.MapClaims, time.Time, bool) {
	head, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, time.Time{}, false
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return nil, time.Time{}, false
	}
	sc := f.scratch.Get().(*hmacScratch)
	claims, ok := f.check(sc, token[:len(head)+1+len(body)], head, body, sig)
	f.scratch.Put(sc)
	if !ok || validator.Validate(claims) != nil {
		return nil, time.Time{}, false
	}
	return claims, flatExpiry(claims), true
}

// flatExpiry is expiry(claims) for claims whose numbers are float64, as the
// fast path decodes them, and that validated (so exp, when there, is a
// number): the same time golang-jwt's NumericDate holds, without
// allocating one.
func flatExpiry(claims jwt.MapClaims) time.Time {
	exp, ok := claims["exp"].(float64)
	if !ok || exp == 0 {
		return time.Time{}
	}
	round, frac := math.Modf(exp)
	return time.Unix(int64(round), int64(frac*1e9)).Truncate(jwt.TimePrecision)
}

// check verifies the signature over signed (head.body) and decodes the
// claims.
func (f *hmacFast) check(sc *hmacScratch, signed, head, body, sig string) (jwt.MapClaims, bool) {
	alg, ok := f.algorithm(sc, head)
	if !ok {
		return nil, false
	}
	mac := sc.macs[alg]
	if mac == nil {
		mac = hmac.New(f.news[alg], f.secret)
		sc.macs[alg] = mac
	}
	mac.Reset()
	_, _ = mac.Write(bytesOf(signed))
	sum := mac.Sum(sc.sum[:0])
	if base64.RawURLEncoding.DecodedLen(len(sig)) > len(sc.sig) {
		return nil, false
	}
	n, err := base64.RawURLEncoding.Decode(sc.sig[:], bytesOf(sig))
	if err != nil || !hmac.Equal(sc.sig[:n], sum) {
		return nil, false
	}
	data, ok := sc.decode(body)
	if !ok {
		return nil, false
	}
	return decodeFlatClaims(data)
}

// algorithm returns the index of the header's alg among the pinned HMAC
// algorithms.
func (f *hmacFast) algorithm(sc *hmacScratch, head string) (int, bool) {
	data, ok := sc.decode(head)
	if !ok {
		return 0, false
	}
	var alg []byte
	found := false
	obj := flatObject{data: data}
	for {
		key, kind, val, more := obj.next()
		if !more {
			break
		}
		if string(key) == "alg" {
			alg, found = val, kind == '"'
		}
	}
	if obj.bad || !found {
		return 0, false
	}
	for i, name := range f.algs {
		if string(alg) == name {
			return i, true
		}
	}
	return 0, false
}

// decode base64url-decodes seg, as the parser does, into the scratch's
// buffer.
func (sc *hmacScratch) decode(seg string) ([]byte, bool) {
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if n > maxFastSegment {
		return nil, false
	}
	if cap(sc.seg) < n {
		sc.seg = make([]byte, n, max(n, 512))
	}
	n, err := base64.RawURLEncoding.Decode(sc.seg[:n], bytesOf(seg))
	if err != nil {
		return nil, false
	}
	return sc.seg[:n], true
}

// decodeFlatClaims decodes a flat JSON object into the map encoding/json
// would make of it.
func decodeFlatClaims(data []byte) (jwt.MapClaims, bool) {
	claims := jwt.MapClaims{}
	obj := flatObject{data: data}
	for {
		key, kind, val, more := obj.next()
		if !more {
			break
		}
		switch kind {
		case '"':
			claims[string(key)] = string(val)
		case '0':
			n, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(val), len(val)), 64)
			if err != nil {
				return nil, false
			}
			claims[string(key)] = n
		case 't':
			claims[string(key)] = true
		case 'f':
			claims[string(key)] = false
		default:
			claims[string(key)] = nil
		}
	}
	return claims, !obj.bad
}

// bytesOf views s as bytes, for reading calls (a hash's Write, a base64
// decoding's source) that keep nothing.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// flatObject reads a JSON object member by member. It takes only a strict
// subset of JSON, and sets bad on anything else (which may be valid JSON
// the parser is left to read): strings of printable ASCII without escapes,
// numbers, true, false and null as values, no nesting.
type flatObject struct {
	data  []byte
	pos   int
	begun bool
	bad   bool
}

// next returns the next member: its key, the kind of its value ('"' a
// string, '0' a number, 't', 'f', 'n') and the value's text (a string's
// without its quotes). more is false at the end of the object, and when
// bad is set.
func (o *flatObject) next() (key []byte, kind byte, val []byte, more bool) {
	if !o.begun {
		o.begun = true
		if !o.expect('{') {
			return nil, 0, nil, false
		}
		if o.peek() == '}' {
			o.pos++
			return nil, 0, nil, o.end()
		}
	} else {
		switch o.peek() {
		case '}':
			o.pos++
			return nil, 0, nil, o.end()
		case ',':
			o.pos++
		default:
			o.bad = true
			return nil, 0, nil, false
		}
	}
	if o.peek() != '"' {
		o.bad = true
		return nil, 0, nil, false
	}
	key, ok := o.str()
	if !ok || !o.expect(':') {
		o.bad = true
		return nil, 0, nil, false
	}
	kind, val, ok = o.value()
	if !ok {
		o.bad = true
		return nil, 0, nil, false
	}
	return key, kind, val, true
}

// end reports false, having set bad if anything but white space follows
// the object.
func (o *flatObject) end() bool {
	o.skipSpace()
	o.bad = o.pos != len(o.data)
	return false
}

// expect skips white space and then c.
func (o *flatObject) expect(c byte) bool {
	if o.peek() != c {
		o.bad = true
		return false
	}
	o.pos++
	return true
}

// peek skips white space and returns the next byte, 0 at the end.
func (o *flatObject) peek() byte {
	o.skipSpace()
	if o.pos == len(o.data) {
		return 0
	}
	return o.data[o.pos]
}

func (o *flatObject) skipSpace() {
	for o.pos < len(o.data) {
		switch o.data[o.pos] {
		case ' ', '\t', '\n', '\r':
			o.pos++
		default:
			return
		}
	}
}

// str reads a string at pos (its opening quote) and returns its content.
func (o *flatObject) str() ([]byte, bool) {
	start := o.pos + 1
	for i := start; i < len(o.data); i++ {
		c := o.data[i]
		if c == '"' {
			o.pos = i + 1
			return o.data[start:i], true
		}
		if c < 0x20 || c == '\\' || c >= 0x7f {
			return nil, false
		}
	}
	return nil, false
}

// value reads a member's value.
func (o *flatObject) value() (kind byte, val []byte, ok bool) {
	switch c := o.peek(); {
	case c == '"':
		val, ok = o.str()
		return '"', val, ok
	case c == '-' || c >= '0' && c <= '9':
		val, ok = o.number()
		return '0', val, ok
	case c == 't' || c == 'f' || c == 'n':
		for _, word := range [...]string{"true", "false", "null"} {
			if end := o.pos + len(word); end <= len(o.data) && string(o.data[o.pos:end]) == word {
				o.pos += len(word)
				return c, nil, true
			}
		}
	}
	return 0, nil, false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (o *flatObject) number() ([]byte, bool) {
	start := o.pos
	d := o.data
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	o.pos = i
	return d[start:i], true
}

// digits returns the index after the digits from i.
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}
