package authorizer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Why the backend is asked, as Request.Reason tells it.
const (
	ReasonConnect = "connect"
	ReasonRefresh = "refresh"
)

// Request is what the backend is sent, as JSON: what the client presented
// for one socket. Identical requests (Reason aside) get the same answer
// from the cache.
type Request struct {
	// Namespace is the namespace the socket connects to.
	Namespace string `json:"namespace"`
	// Reason is "connect" or "refresh"; set by the authorizer.
	Reason string `json:"reason,omitempty"`
	// Auth is the CONNECT auth payload, without the JWT when one was
	// verified before.
	Auth json.RawMessage `json:"auth,omitempty"`
	// Headers are the forwarded headers of the handshake request that
	// were present, keyed by their lower-case names.
	Headers map[string]string `json:"headers,omitempty"`
	// Cookies are the forwarded cookies that were present, by name.
	Cookies map[string]string `json:"cookies,omitempty"`
	// Address is the client address of the handshake request.
	Address string `json:"address,omitempty"`
	// Claims are those of a JWT verified before the authorizer, if any.
	Claims gatehouse.Claims `json:"claims,omitempty"`
}

// Forward names what of the handshake request a Request carries.
type Forward struct {
	// Headers are header names; matched without regard to case.
	Headers []string
	// Cookies are cookie names; matched exactly.
	Cookies []string
}

// Gather returns the forwarded headers and cookies that header (a lookup
// of the handshake request's headers) finds, each nil when none is there.
func (f Forward) Gather(header func(name string) string) (headers, cookies map[string]string) {
	for _, name := range f.Headers {
		if v := header(name); v != "" {
			if headers == nil {
				headers = make(map[string]string, len(f.Headers))
			}
			headers[strings.ToLower(name)] = v
		}
	}
	if len(f.Cookies) == 0 {
		return headers, nil
	}
	raw := header("Cookie")
	if raw == "" {
		return headers, nil
	}
	wanted := make(map[string]bool, len(f.Cookies))
	for _, name := range f.Cookies {
		wanted[name] = true
	}
	for _, c := range parseCookies(raw) {
		if _, seen := cookies[c.Name]; wanted[c.Name] && !seen {
			if cookies == nil {
				cookies = make(map[string]string, len(f.Cookies))
			}
			cookies[c.Name] = c.Value
		}
	}
	return headers, cookies
}

// parseCookies reads a Cookie header leniently, as browsers write it; a
// malformed pair is skipped rather than failing the others.
func parseCookies(raw string) []*http.Cookie {
	if cookies, err := http.ParseCookie(raw); err == nil {
		return cookies
	}
	var out []*http.Cookie
	for _, part := range strings.Split(raw, ";") {
		if cs, err := http.ParseCookie(strings.TrimSpace(part)); err == nil {
			out = append(out, cs...)
		}
	}
	return out
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("url is required")
	case err != nil:
		return fmt.Errorf("url %q does not parse: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q must be an absolute http or https URL", raw)
	case u.Host == "":
		return fmt.Errorf("url %q has no host", raw)
	}
	return nil
}

// requestHeader builds the headers of every request to the backend.
func requestHeader(extra map[string]string) (http.Header, error) {
	header := http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"User-Agent":   {"gatehouse"},
	}
	for name, value := range extra {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("request_headers: %q is not a valid header name", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("request_headers: %s has a line break or NUL in its value", name)
		}
		header.Set(name, value)
	}
	return header, nil
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
