package playground

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const (
	// maxMintBody bounds a mint request: claims are a few names and roles.
	maxMintBody = 16 << 10
	// defaultTokenLife and maxTokenLife bound a minted token's lifetime: a
	// playground token is for trying things now, not for keeping.
	defaultTokenLife = time.Hour
	maxTokenLife     = 24 * time.Hour
)

// MintRefusal says why the playground may not mint tokens for cfg, or ""
// when it may: enabled (server.playground.mint_tokens) must be set, and
// auth.jwt must verify with its own secret and an HMAC algorithm, since
// tokens for public keys come from an identity provider.
func MintRefusal(cfg *gatewayconfig.Config, enabled bool) string {
	jwt := cfg.Auth.JWT
	switch {
	case !enabled:
		return "server.playground.mint_tokens is not true"
	case jwt == nil:
		return "auth.jwt is not configured, so the gateway verifies no tokens"
	case jwt.Secret == "":
		return "auth.jwt has no secret: tokens verified with public keys come from their identity provider"
	case !hasHMAC(jwt.Algorithms):
		return "auth.jwt.algorithms lists no HMAC algorithm (HS256, HS384 or HS512)"
	}
	return ""
}

func hasHMAC(algorithms []string) bool {
	for _, a := range algorithms {
		if strings.HasPrefix(a, "HS") {
			return true
		}
	}
	return false
}

// mintRequest is the body of POST <path>/api/token.
type mintRequest struct {
	// Claims are the token's claims; sub is required.
	Claims map[string]any `json:"claims"`
	// ExpiresIn is the lifetime in seconds; default one hour, at most a day.
	ExpiresIn *float64 `json:"expires_in"`
}

// mint signs a token with the claims asked for, when minting is on.
func (s *server) mint(c *fiber.Ctx) error {
	cfg, signer := s.opts.Current()
	if reason := MintRefusal(cfg, s.opts.MintTokens); reason != "" || signer == nil {
		if reason == "" {
			reason = "auth.jwt has no signer"
		}
		return refuse(c, fiber.StatusForbidden, gatehouse.CodeForbidden, "minting tokens is off: "+reason)
	}
	// A JSON body cannot be sent across origins without a preflight, which
	// the playground does not answer, and a browser names the page that
	// sends it: another site's page cannot mint.
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return refuse(c, fiber.StatusUnsupportedMediaType, gatehouse.CodeInvalidRequest, "send the claims as application/json")
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !sameOrigin(origin, c.Hostname()) {
		return refuse(c, fiber.StatusForbidden, gatehouse.CodeForbidden, "tokens are minted for the playground's own page only, not for "+origin)
	}
	if len(c.Body()) > maxMintBody {
		return refuse(c, fiber.StatusRequestEntityTooLarge, gatehouse.CodePayloadTooLarge,
			fmt.Sprintf("a mint request is at most %d bytes", maxMintBody))
	}
	req, ttl, err := parseMintRequest(c.Body())
	if err != nil {
		return refuse(c, fiber.StatusBadRequest, gatehouse.CodeInvalidRequest, err.Error())
	}
	token, err := signer.Sign(req.Claims, ttl)
	if err != nil {
		return refuse(c, fiber.StatusInternalServerError, gatehouse.CodeInternal, "signing the token: "+err.Error())
	}
	claims, err := unverifiedClaims(token)
	if err != nil {
		return refuse(c, fiber.StatusInternalServerError, gatehouse.CodeInternal, err.Error())
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"token": token, "claims": claims})
}

// sameOrigin reports whether a browser's Origin header names host (the
// request's Host, port included).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// parseMintRequest reads and checks a mint request; it drops the time
// claims the endpoint sets itself.
func parseMintRequest(body []byte) (mintRequest, time.Duration, error) {
	var req mintRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, 0, fmt.Errorf("the body is not a mint request ({\"claims\": {...}, \"expires_in\": seconds}): %w", err)
	}
	if sub, ok := req.Claims["sub"].(string); !ok || sub == "" {
		return req, 0, fmt.Errorf("claims.sub must be a non-empty string")
	}
	// The endpoint sets the time claims itself, so that every minted token
	// expires within maxTokenLife whatever the page asks for.
	for _, name := range []string{"exp", "iat", "nbf"} {
		delete(req.Claims, name)
	}
	ttl := defaultTokenLife
	if req.ExpiresIn != nil {
		seconds := *req.ExpiresIn
		if !(seconds >= 1 && seconds <= maxTokenLife.Seconds()) {
			return req, 0, fmt.Errorf("expires_in must be between 1 and %.0f seconds", maxTokenLife.Seconds())
		}
		ttl = time.Duration(seconds * float64(time.Second))
	}
	return req, ttl, nil
}

// unverifiedClaims reads back the claims of a token just signed, to show
// the page what it got (exp and iat included).
func unverifiedClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the signed token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("reading the signed token: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("reading the signed token: %w", err)
	}
	return claims, nil
}
