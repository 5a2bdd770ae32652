package gatewayconfig

import (
	"fmt"
	"time"
)

// Defaults of the connection caps and of key rotation.
const (
	// DefaultMaxConnectionsPerUser lets one user keep a socket in a
	// namespace from a hundred tabs and devices, and stops one stolen or
	// scripted token from holding thousands.
	DefaultMaxConnectionsPerUser = 100
	DefaultUserClaim             = "sub"
	DefaultJWKSUnknownKID        = "refetch"
	// DefaultJWKSRefetchInterval spaces the key set fetches that tokens
	// with an unknown kid trigger.
	DefaultJWKSRefetchInterval = Duration(30 * time.Second)
	// MinJWKSRefetchInterval keeps jwks_refetch_interval from letting
	// made-up kids make the gateway hammer the identity provider.
	MinJWKSRefetchInterval = Duration(time.Second)
)

// applyCapsDefaults fills in the connection caps of server.limits and the
// rotation keys of auth.jwt.
func (c *Config) applyCapsDefaults() {
	l := &c.Server.Limits
	setDefault(c, "server.limits.max_connections_per_user", &l.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
	setDefault(c, "server.limits.user_claim", &l.UserClaim, DefaultUserClaim)
	if j := c.Auth.JWT; j != nil {
		setDefault(c, "auth.jwt.jwks_unknown_kid", &j.JWKSUnknownKID, DefaultJWKSUnknownKID)
		setDefault(c, "auth.jwt.jwks_refetch_interval", &j.JWKSRefetchInterval, DefaultJWKSRefetchInterval)
	}
}

// capsAndRotation checks the connection caps and the rotation keys.
func (v *validator) capsAndRotation() {
	c := v.cfg
	l := c.Server.Limits
	if l.MaxConnectionsPerUser < 0 {
		v.fail("server.limits.max_connections_per_user", "server.limits.max_connections_per_user must be 0 (no limit) or more, got %d", l.MaxConnectionsPerUser)
	}
	if l.UserClaim == "" {
		v.fail("server.limits.user_claim", "server.limits.user_claim must name a claim, such as sub")
	}
	for _, ns := range c.Namespaces {
		if ns.MaxConnections < 0 {
			path := "namespaces." + ns.Name + ".max_connections"
			v.fail(path, "%s must be 0 (no limit) or more, got %d", path, ns.MaxConnections)
		}
	}
	if j := c.Auth.JWT; j != nil {
		v.rotation(j)
	}
}

// rotation checks auth.jwt.previous_secrets and the JWKS unknown-kid
// policy. A window that has ended is no error: a config written for a
// rotation must still load once it is over.
func (v *validator) rotation(j *JWT) {
	v.oneOf("auth.jwt.jwks_unknown_kid", j.JWKSUnknownKID, "refetch", "refuse")
	if j.JWKSRefetchInterval < MinJWKSRefetchInterval {
		v.fail("auth.jwt.jwks_refetch_interval", "auth.jwt.jwks_refetch_interval must be at least %v, got %v: it is what keeps made-up kids from making the gateway hammer the identity provider",
			MinJWKSRefetchInterval, j.JWKSRefetchInterval)
	}
	if len(j.PreviousSecrets) > 0 && j.Secret == "" {
		v.fail("auth.jwt.previous_secrets", "auth.jwt.previous_secrets replace an HMAC secret: set auth.jwt.secret, the new one, too")
	}
	for i, p := range j.PreviousSecrets {
		path := fmt.Sprintf("auth.jwt.previous_secrets[%d]", i)
		switch {
		case p.Secret == "":
			v.fail(path+".secret", "%s.secret must not be empty (is its environment variable empty?)", path)
		case p.Secret == j.Secret:
			v.fail(path+".secret", "%s.secret is the current secret; list the secret being replaced", path)
		}
		if _, err := ParseUntil(p.Until); err != nil {
			at := path + ".until"
			if !v.cfg.written(at) {
				at = path
			}
			v.fail(at, "%s.until: %v", path, err)
		}
	}
}

// ParseUntil parses the end of a previous secret's window: an RFC 3339
// time with its offset, such as 2026-12-03T12:00:00Z.
func ParseUntil(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("required: when the previous secret stops verifying tokens, such as 2026-12-03T12:00:00Z")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected an RFC 3339 time such as 2026-12-03T12:00:00Z, got %q", s)
	}
	return t, nil
}
