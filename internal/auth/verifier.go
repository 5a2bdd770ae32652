package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const (
	// jwksHTTPTimeout bounds one download of the key set.
	jwksHTTPTimeout = 10 * time.Second
	// unknownKIDWaitMax is how long a verification may wait for the refresh
	// limiter (and the refresh); past it the token is refused at once.
	unknownKIDWaitMax = 5 * time.Second
	// shortSecret is the HMAC secret length under which a warning is logged:
	// RFC 7518 asks for a key at least as long as the hash output.
	shortSecret = 32
)

// keyFamily is the kind of key an algorithm verifies with.
type keyFamily int

const (
	familyHMAC keyFamily = iota + 1
	familyRSA
	familyECDSA
	familyEd25519
)

// algorithmFamilies lists every algorithm a config may pin.
var algorithmFamilies = map[string]keyFamily{
	"HS256": familyHMAC, "HS384": familyHMAC, "HS512": familyHMAC,
	"RS256": familyRSA, "RS384": familyRSA, "RS512": familyRSA,
	"PS256": familyRSA, "PS384": familyRSA, "PS512": familyRSA,
	"ES256": familyECDSA, "ES384": familyECDSA, "ES512": familyECDSA,
	"EdDSA": familyEd25519,
}

// ecdsaCurves pins each ES algorithm to its curve (RFC 7518 section 3.4).
var ecdsaCurves = map[string]elliptic.Curve{
	"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521(),
}

// Verifier checks tokens against one auth.jwt config. It is safe for
// concurrent use.
type Verifier struct {
	algorithms []string
	allowed    map[string]keyFamily
	secret     []byte
	// secretKey is secret as the key golang-jwt verifies with, boxed once
	// rather than at every token.
	secretKey any
	// previous are the secrets being replaced, each accepted until its
	// window ends.
	previous   []previousSecret
	publicKeys []crypto.PublicKey
	jwks       keyfunc.Keyfunc
	ctx        context.Context
	maxSize    int
	leeway     time.Duration
	requireExp bool
	issuer     string
	audience   string
	lookup     []string
	authKey    string
	parser     *jwt.Parser
	validator  *jwt.Validator
	lifetime   *jwt.Validator // exp and nbf alone, for claims verified earlier
	now        func() time.Time
	logger     *slog.Logger
}

// NewVerifier builds a verifier from cfg. It reads the PEM files and, with a
// JWKS URL, starts the key set's background refresh, which stops when ctx
// ends. Config mistakes (no algorithm, "none", an algorithm without a key
// of its kind, an unreadable key) are errors.
func NewVerifier(ctx context.Context, cfg *gatewayconfig.JWT, logger *slog.Logger) (*Verifier, error) {
	if cfg == nil {
		return nil, errors.New("no configuration")
	}
	if logger == nil {
		logger = slog.Default()
	}
	v := &Verifier{
		allowed:    map[string]keyFamily{},
		ctx:        ctx,
		maxSize:    int(cfg.MaxSize),
		leeway:     cfg.Leeway.D(),
		requireExp: cfg.RequireExp == nil || *cfg.RequireExp,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		lookup:     cfg.Lookup,
		authKey:    cfg.AuthKey,
		now:        time.Now,
		logger:     logger,
	}
	// The config loader fills in defaults; these cover a gatewayconfig.JWT built
	// by hand. An empty lookup list is kept: it means "CONNECT payload only".
	if v.maxSize <= 0 {
		v.maxSize = int(gatewayconfig.DefaultJWTMaxSize)
	}
	if v.authKey == "" {
		v.authKey = gatewayconfig.DefaultJWTAuthKey
	}
	if err := v.pinAlgorithms(cfg.Algorithms); err != nil {
		return nil, err
	}
	if err := validateLookup(v.lookup); err != nil {
		return nil, err
	}
	if err := v.loadKeys(ctx, cfg); err != nil {
		return nil, err
	}
	v.parser = jwt.NewParser(v.parserOptions(true)...)
	v.validator = jwt.NewValidator(v.parserOptions(false)...)
	v.lifetime = jwt.NewValidator(jwt.WithTimeFunc(func() time.Time { return v.now() }), jwt.WithLeeway(v.leeway))
	return v, nil
}

func (v *Verifier) pinAlgorithms(algorithms []string) error {
	if len(algorithms) == 0 {
		return errors.New("algorithms: list the accepted algorithms, such as [HS256] or [RS256]")
	}
	for _, alg := range algorithms {
		if strings.EqualFold(alg, "none") {
			return errors.New(`algorithms: "none" is never accepted: unsigned tokens prove nothing`)
		}
		family, ok := algorithmFamilies[alg]
		if !ok {
			return fmt.Errorf("algorithms: unknown algorithm %q (known: %s)", alg, strings.Join(knownAlgorithms(), ", "))
		}
		if _, dup := v.allowed[alg]; !dup {
			v.allowed[alg] = family
			v.algorithms = append(v.algorithms, alg)
		}
	}
	return nil
}

func knownAlgorithms() []string {
	names := make([]string, 0, len(algorithmFamilies))
	for name := range algorithmFamilies {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func validateLookup(lookup []string) error {
	for _, place := range lookup {
		source, name, ok := strings.Cut(place, ":")
		if !ok || name == "" || (source != "header" && source != "query" && source != "cookie") {
			return fmt.Errorf("lookup: %q should be header:NAME, query:NAME or cookie:NAME", place)
		}
	}
	return nil
}

// loadKeys reads the secret, PEM files and JWKS URL, and checks that every
// pinned algorithm has a key it can verify with.
func (v *Verifier) loadKeys(ctx context.Context, cfg *gatewayconfig.JWT) error {
	if cfg.Secret != "" {
		v.secret = []byte(cfg.Secret)
		v.secretKey = v.secret
	}
	if err := v.loadPreviousSecrets(cfg.PreviousSecrets); err != nil {
		return err
	}
	for _, file := range cfg.PublicKeys {
		keys, err := readPublicKeys(file)
		if err != nil {
			return fmt.Errorf("public_keys: %w", err)
		}
		v.publicKeys = append(v.publicKeys, keys...)
	}
	if cfg.JWKSURL != "" {
		refresh := cfg.JWKSRefresh.D()
		if refresh <= 0 {
			refresh = gatewayconfig.DefaultJWKSRefresh.D()
		}
		logger := v.logger
		jwks, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout:       jwksHTTPTimeout,
			RefreshInterval:   refresh,
			RefreshUnknownKID: unknownKIDLimiter(cfg),
			RateLimitWaitMax:  unknownKIDWaitMax,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					logger.WarnContext(ctx, "cannot refresh the JWKS", "url", u, "error", err)
				}
			},
		})
		if err != nil {
			return fmt.Errorf("jwks_url: %w", err)
		}
		v.jwks = jwks
	}

	for _, alg := range v.algorithms {
		family := v.allowed[alg]
		switch {
		case family == familyHMAC && v.secret == nil:
			return fmt.Errorf("algorithm %s needs a secret", alg)
		case family != familyHMAC && v.jwks == nil && len(v.keysFor(alg)) == 0:
			return fmt.Errorf("algorithm %s needs a public key of its kind (public_keys or jwks_url)", alg)
		}
	}
	if v.secret != nil && len(v.secret) < shortSecret {
		v.logger.Warn("the JWT secret is short; use at least 32 random bytes", "length", len(v.secret))
	}
	return nil
}

// readPublicKeys parses every public key and certificate in a PEM file.
func readPublicKeys(file string) ([]crypto.PublicKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var keys []crypto.PublicKey
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		key, err := parsePublicKeyBlock(block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public key or certificate found", file)
	}
	return keys, nil
}

func parsePublicKeyBlock(block *pem.Block) (crypto.PublicKey, error) {
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PUBLIC KEY: %w", err)
		}
		return key, nil
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing RSA PUBLIC KEY: %w", err)
		}
		return key, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing CERTIFICATE: %w", err)
		}
		return cert.PublicKey, nil
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("holds a %s; give the gateway the public key only", block.Type)
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}

// fits reports whether key is the kind of key alg verifies with.
func fits(alg string, family keyFamily, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return family == familyRSA
	case *ecdsa.PublicKey:
		return family == familyECDSA && k.Curve == ecdsaCurves[alg]
	case ed25519.PublicKey:
		return family == familyEd25519
	}
	return false
}

// keysFor returns the PEM keys that fit alg.
func (v *Verifier) keysFor(alg string) []jwt.VerificationKey {
	family := algorithmFamilies[alg]
	var keys []jwt.VerificationKey
	for _, key := range v.publicKeys {
		if fits(alg, family, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

func (v *Verifier) parserOptions(withMethods bool) []jwt.ParserOption {
	opts := []jwt.ParserOption{jwt.WithTimeFunc(func() time.Time { return v.now() })}
	if withMethods {
		opts = append(opts, jwt.WithValidMethods(v.algorithms))
	}
	if v.requireExp {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}
	return append(opts, jwt.WithLeeway(v.leeway))
}

// keyfunc picks the key for a token: only for a pinned algorithm, and only
// a key of the algorithm's kind, whatever the token's header claims.
func (v *Verifier) keyfunc(token *jwt.Token) (any, error) {
	alg, _ := token.Header["alg"].(string)
	family, ok := v.allowed[alg]
	if !ok {
		return nil, algorithmRefused(alg)
	}
	if family == familyHMAC {
		return v.hmacKeys(), nil
	}
	if _, hasKID := token.Header["kid"]; hasKID && v.jwks != nil {
		key, err := v.jwks.Keyfunc(token)
		if err != nil {
			if known := v.keysFor(alg); len(known) > 0 {
				return jwt.VerificationKeySet{Keys: known}, nil
			}
			return nil, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is signed with a key the gateway does not know")
		}
		if !fits(alg, family, key) {
			return nil, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token uses algorithm %s, which does not fit its key", alg)
		}
		return key, nil
	}
	keys := v.keysFor(alg)
	if v.jwks != nil {
		if set, err := v.jwks.VerificationKeySet(v.ctx); err == nil {
			for _, key := range set.Keys {
				if fits(alg, family, key) {
					keys = append(keys, key)
				}
			}
		}
	}
	if len(keys) == 0 {
		return nil, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is signed with a key the gateway does not know")
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

func algorithmRefused(alg string) *gatehouse.Error {
	if alg == "" {
		return gatehouse.Errorf(gatehouse.CodeUnauthorized, "token names no algorithm")
	}
	if len(alg) > 16 || strings.IndexFunc(alg, notAlphanumeric) >= 0 {
		// The header is the client's text: quote it rather than print it.
		if len(alg) > 16 {
			alg = alg[:16]
		}
		return gatehouse.Errorf(gatehouse.CodeUnauthorized, "token uses algorithm %q, which is not allowed", alg)
	}
	return gatehouse.Errorf(gatehouse.CodeUnauthorized, "token uses algorithm %s, which is not allowed", alg)
}

func notAlphanumeric(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}

// Verify checks a token: size, algorithm, signature, exp (required unless
// the config says otherwise), nbf, iss and aud, with the configured leeway.
// It returns the claims and the expiry (zero when the token has none).
func (v *Verifier) Verify(token string) (gatehouse.Claims, time.Time, error) {
	if err := v.checkSize(token); err != nil {
		return nil, time.Time{}, err
	}
	parsed, err := v.parser.Parse(token, v.keyfunc)
	if err != nil {
		return nil, time.Time{}, v.refusal(err, parsed)
	}
	claims, ok := parsed.Claims.(jwt.MapClaims)
	if !ok {
		return nil, time.Time{}, gatehouse.Errorf(gatehouse.CodeUnauthorized, "token claims are not a JSON object")
	}
	return gatehouse.Claims(claims), expiry(claims), nil
}

// VerifyJSON checks a token as Verify does, refusing the same tokens with
// the same errors, and returns its claims as their JSON text instead of a
// map: the payload golang-jwt decoded, kept as it is ("{}" for a payload of
// null). The claims are read from the text for the checks (see
// tokenClaims), so a namespace CONNECT that keeps the text for its socket
// (socketio.Socket.SetClaimsJSON) decodes nothing else. The one token the
// two tell apart is one Verify calls malformed for a number beyond
// float64's range in a claim other than exp, nbf, iss and aud: VerifyJSON
// does not decode those claims, and accepts it.
func (v *Verifier) VerifyJSON(token string) ([]byte, error) {
	if err := v.checkSize(token); err != nil {
		return nil, err
	}
	claims := new(tokenClaims)
	parsed, err := v.parser.ParseWithClaims(token, claims, v.keyfunc)
	if err != nil {
		return nil, v.refusal(err, parsed)
	}
	if claims.text == nil {
		return []byte("{}"), nil
	}
	return claims.text, nil
}

// CheckLifetime checks again, against the clock now and with the configured
// leeway, the exp and nbf of claims that verified earlier, such as at the
// HTTP upgrade: a token valid then may have expired by the time a namespace
// CONNECT arrives. An expired token is token_expired, one not valid yet
// unauthorized.
func (v *Verifier) CheckLifetime(claims gatehouse.Claims) error {
	if err := v.lifetime.Validate(jwt.MapClaims(claims)); err != nil {
		return v.refusal(err, nil)
	}
	return nil
}

func (v *Verifier) checkSize(token string) error {
	if token == "" {
		return gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is missing")
	}
	if len(token) > v.maxSize {
		return gatehouse.Errorf(gatehouse.CodeUnauthorized, "token is larger than %d bytes", v.maxSize)
	}
	return nil
}

func expiry(claims jwt.MapClaims) time.Time {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}
	}
	return exp.Time
}

// refusal turns a parse or validation error into the error clients see. The
// order matters where several claims fail at once: a token from the wrong
// issuer is unauthorized even when it has also expired, because refreshing
// it would not help.
func (v *Verifier) refusal(err error, token *jwt.Token) *gatehouse.Error {
	var coded *gatehouse.Error
	if errors.As(err, &coded) {
		return coded
	}
	unauthorized := func(msg string) *gatehouse.Error {
		return &gatehouse.Error{Code: gatehouse.CodeUnauthorized, Message: msg}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if token != nil && token.Method != nil {
			if _, ok := v.allowed[token.Method.Alg()]; !ok {
				return algorithmRefused(token.Method.Alg())
			}
		}
		return unauthorized("token signature is invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		if token != nil {
			if alg, _ := token.Header["alg"].(string); alg != "" {
				if _, ok := v.allowed[alg]; !ok {
					return algorithmRefused(alg)
				}
			}
		}
		return unauthorized("token cannot be verified")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return unauthorized(v.missingClaim(token))
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthorized("token issuer is not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized("token audience is not accepted")
	case errors.Is(err, jwt.ErrInvalidType):
		return unauthorized("token has a registered claim of the wrong type")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized("token is not valid yet")
	case errors.Is(err, jwt.ErrTokenExpired):
		return &gatehouse.Error{Code: gatehouse.CodeTokenExpired, Message: "token has expired"}
	}
	return unauthorized("token is invalid")
}

// missingClaim names the first required claim the token lacks.
func (v *Verifier) missingClaim(token *jwt.Token) string {
	has := func(string) bool { return false }
	if token != nil {
		switch claims := token.Claims.(type) {
		case jwt.MapClaims:
			has = func(name string) bool { _, ok := claims[name]; return ok }
		case *tokenClaims:
			has = claims.has
		}
	}
	required := []string{}
	if v.requireExp {
		required = append(required, "exp")
	}
	if v.issuer != "" {
		required = append(required, "iss")
	}
	if v.audience != "" {
		required = append(required, "aud")
	}
	for _, name := range required {
		if !has(name) {
			return fmt.Sprintf("token has no %s claim, which is required", name)
		}
	}
	return "token is missing a required claim"
}

// AuthKey is the key of the token in a CONNECT auth payload.
func (v *Verifier) AuthKey() string { return v.authKey }

// Sign issues a token with claims, signed with the config's secret and its
// first HMAC algorithm; it adds iat, exp (when ttl > 0) and the configured
// iss and aud unless claims carry them. It serves `gatehouse token` and
// tests: with public keys, tokens come from the identity provider.
func (v *Verifier) Sign(claims map[string]any, ttl time.Duration) (string, error) {
	alg := ""
	for _, a := range v.algorithms {
		if v.allowed[a] == familyHMAC {
			alg = a
			break
		}
	}
	if alg == "" || v.secret == nil {
		return "", errors.New("the config verifies with public keys; sign tokens with your identity provider")
	}
	now := v.now()
	out := jwt.MapClaims{"iat": now.Unix()}
	if ttl > 0 {
		out["exp"] = now.Add(ttl).Unix()
	}
	if v.issuer != "" {
		out["iss"] = v.issuer
	}
	if v.audience != "" {
		out["aud"] = v.audience
	}
	for k, val := range claims {
		out[k] = val
	}
	signed, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), out).SignedString(v.secret)
	if err != nil {
		return "", fmt.Errorf("signing the token: %w", err)
	}
	return signed, nil
}
