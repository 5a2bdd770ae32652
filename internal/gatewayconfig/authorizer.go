package gatewayconfig

import (
	"fmt"
	"net/url"
	"time"
)

// Defaults of namespaces[].authorizer.
const (
	DefaultAuthorizerAt          = "connect"
	DefaultAuthorizerTimeout     = Duration(2 * time.Second)
	DefaultAuthorizerOnError     = "deny"
	DefaultAuthorizerCacheSize   = 10000
	DefaultAuthorizerCacheTTL    = Duration(30 * time.Second)
	DefaultAuthorizerCacheBytes  = 16 * Megabyte
	DefaultAuthorizerMaxRequest  = 16 * Kilobyte
	DefaultAuthorizerMaxAnswer   = 16 * Kilobyte
	DefaultAuthorizerMaxInFlight = 1000
)

// authorizerDefaults fills in the namespace's authorizer, when it has one.
func (c *Config) authorizerDefaults(ns *Namespace) {
	z := ns.Authorizer
	if z == nil {
		return
	}
	path := "namespaces." + ns.Name + ".authorizer."
	setDefault(c, path+"at", &z.At, DefaultAuthorizerAt)
	setDefault(c, path+"timeout", &z.Timeout, DefaultAuthorizerTimeout)
	setDefault(c, path+"on_error", &z.OnError, DefaultAuthorizerOnError)
	setDefault(c, path+"cache.size", &z.Cache.Size, DefaultAuthorizerCacheSize)
	setDefault(c, path+"cache.ttl", &z.Cache.TTL, DefaultAuthorizerCacheTTL)
	setDefault(c, path+"cache.max_bytes", &z.Cache.MaxBytes, DefaultAuthorizerCacheBytes)
	setDefault(c, path+"max_request", &z.MaxRequest, DefaultAuthorizerMaxRequest)
	setDefault(c, path+"max_answer", &z.MaxAnswer, DefaultAuthorizerMaxAnswer)
	setDefault(c, path+"max_in_flight", &z.MaxInFlight, DefaultAuthorizerMaxInFlight)
}

// authorizer checks a namespace's authorizer: an absolute http(s) URL,
// positive bounds, header and cookie names that can be sent.
func (v *validator) authorizer(ns Namespace) {
	z := ns.Authorizer
	if z == nil {
		return
	}
	path := "namespaces." + ns.Name + ".authorizer."
	if err := checkHTTPURL(z.URL); err != nil {
		v.fail(path+"url", "authorizer: %v", err)
	}
	v.oneOf(path+"on_error", z.OnError, "deny", "allow")
	v.oneOf(path+"at", z.At, "connect", "upgrade")
	if z.At == "upgrade" {
		for _, other := range v.cfg.Namespaces {
			if other.Name == ns.Name {
				break
			}
			if other.Authorizer != nil && other.Authorizer.At == "upgrade" {
				v.fail(path+"at", "authorizer: namespace %s asks its authorizer at the upgrade already; the handshake, which comes before any namespace, has one", other.Name)
				break
			}
		}
	}
	if z.Timeout <= 0 {
		v.fail(path+"timeout", "authorizer: timeout must be above 0, got %s", z.Timeout)
	}
	for key, n := range map[string]int64{"max_request": int64(z.MaxRequest), "max_answer": int64(z.MaxAnswer),
		"max_in_flight": int64(z.MaxInFlight)} {
		if n <= 0 {
			v.fail(path+key, "authorizer: %s must be above 0, got %d", key, n)
		}
	}
	if z.Cache.Size < 0 || z.Cache.TTL < 0 || z.Cache.MaxBytes < 0 {
		v.fail(path+"cache", "authorizer: cache size, ttl and max_bytes must not be negative")
	}
	for i, name := range z.Headers {
		if !headerToken(name) {
			v.fail(fmt.Sprintf("%sheaders[%d]", path, i), "authorizer: %q is not a header name", name)
		}
	}
	for i, name := range z.Cookies {
		if !headerToken(name) {
			v.fail(fmt.Sprintf("%scookies[%d]", path, i), "authorizer: %q is not a cookie name", name)
		}
	}
	for name := range z.RequestHeaders {
		if !headerToken(name) {
			v.fail(path+"request_headers", "authorizer: %q is not a header name", name)
		}
	}
}

// checkHTTPURL accepts absolute http and https URLs with a host.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("url is required")
	case err != nil:
		return fmt.Errorf("url %q does not parse", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q must be an absolute http or https URL", raw)
	case u.Host == "":
		return fmt.Errorf("url %q has no host", raw)
	}
	return nil
}

// headerToken reports whether name is an HTTP token (RFC 9110 5.1), as
// header and cookie names are.
func headerToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
