package auth

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// Key rotation. An HMAC secret is replaced without refusing the tokens
// signed before: the new secret goes in auth.jwt.secret, the old one in
// previous_secrets with the end of its window, which is when the last
// token signed with it expires. A token verifies with the secret, or with
// a previous secret whose window is still open at the moment it is
// checked. Tokens are always signed with the secret.
//
// With a JWKS, a token whose kid the key set lacks either makes the
// verifier fetch the set again, at most once per jwks_refetch_interval
// whatever the tokens say (refetch), or is refused at once (refuse).

// previousSecret is an HMAC secret accepted until its window ends.
type previousSecret struct {
	secret []byte
	until  time.Time
}

// loadPreviousSecrets reads auth.jwt.previous_secrets; a window already
// over is kept out and logged, so that a config written for a rotation
// still loads once the rotation is done.
func (v *Verifier) loadPreviousSecrets(entries []gatewayconfig.PreviousSecret) error {
	for i, p := range entries {
		until, err := gatewayconfig.ParseUntil(p.Until)
		if err != nil {
			return fmt.Errorf("previous_secrets[%d].until: %w", i, err)
		}
		if p.Secret == "" {
			return fmt.Errorf("previous_secrets[%d].secret is empty", i)
		}
		if !v.now().Before(until) {
			v.logger.Info("a previous JWT secret's window has ended; remove it from auth.jwt.previous_secrets",
				"index", i, "until", until.Format(time.RFC3339))
			continue
		}
		if len(p.Secret) < shortSecret {
			v.logger.Warn("a previous JWT secret is short", "index", i, "length", len(p.Secret))
		}
		v.previous = append(v.previous, previousSecret{secret: []byte(p.Secret), until: until})
	}
	return nil
}

// hmacKeys returns what an HMAC token verifies with now: the secret alone,
// or with it the previous secrets whose window is open.
func (v *Verifier) hmacKeys() any {
	if len(v.previous) == 0 {
		return v.secretKey
	}
	now := v.now()
	keys := make([]jwt.VerificationKey, 0, 1+len(v.previous))
	keys = append(keys, v.secret)
	for _, p := range v.previous {
		if now.Before(p.until) {
			keys = append(keys, p.secret)
		}
	}
	if len(keys) == 1 {
		return v.secretKey
	}
	return jwt.VerificationKeySet{Keys: keys}
}

// unknownKIDLimiter is the limiter of the key set fetches that unknown
// kids trigger: one per jwks_refetch_interval, or none at all with
// jwks_unknown_kid: refuse (a limiter that never allows one, since the
// JWKS client treats no limiter as its own default).
func unknownKIDLimiter(cfg *gatewayconfig.JWT) *rate.Limiter {
	if cfg.JWKSUnknownKID == "refuse" {
		return rate.NewLimiter(0, 0)
	}
	every := cfg.JWKSRefetchInterval.D()
	if every < gatewayconfig.MinJWKSRefetchInterval.D() {
		// A config.JWT built by hand, without the loader's defaults.
		every = gatewayconfig.DefaultJWKSRefetchInterval.D()
	}
	return rate.NewLimiter(rate.Every(every), 1)
}
