package gatewayconfig

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Defaults of server.hooks.
const (
	DefaultHooksTimeout       = Duration(5 * time.Second)
	DefaultHooksBatchSize     = 100
	DefaultHooksBatchInterval = Duration(time.Second)
	DefaultHooksMinBackoff    = Duration(200 * time.Millisecond)
	DefaultHooksMaxBackoff    = Duration(10 * time.Second)
	DefaultHooksBuffer        = 10000
	DefaultHooksBufferBytes   = 8 * Megabyte
	DefaultHooksFlushTimeout  = Duration(5 * time.Second)
	DefaultHooksNodeTimeout   = Duration(15 * time.Second)
	MaxHooksBatchSize         = 10000
	MinHooksNodeTimeout       = Duration(3 * time.Second)
)

// DefaultHooksEvents are the kinds of lifecycle event sent when
// server.hooks.events is not written: all of them.
func DefaultHooksEvents() []string {
	return []string{"connect", "disconnect", "room_occupied", "room_vacated"}
}

// applyHooksDefaults fills in server.hooks, when it is written.
func (c *Config) applyHooksDefaults() {
	h := c.Server.Hooks
	if h == nil {
		return
	}
	setDefault(c, "server.hooks.events", &h.Events, DefaultHooksEvents())
	setDefault(c, "server.hooks.timeout", &h.Timeout, DefaultHooksTimeout)
	setDefault(c, "server.hooks.batch.size", &h.Batch.Size, DefaultHooksBatchSize)
	setDefault(c, "server.hooks.batch.interval", &h.Batch.Interval, DefaultHooksBatchInterval)
	setDefault(c, "server.hooks.retry.min_backoff", &h.Retry.MinBackoff, DefaultHooksMinBackoff)
	setDefault(c, "server.hooks.retry.max_backoff", &h.Retry.MaxBackoff, DefaultHooksMaxBackoff)
	setDefault(c, "server.hooks.buffer", &h.Buffer, DefaultHooksBuffer)
	setDefault(c, "server.hooks.buffer_bytes", &h.BufferBytes, DefaultHooksBufferBytes)
	setDefault(c, "server.hooks.flush_timeout", &h.FlushTimeout, DefaultHooksFlushTimeout)
	setDefault(c, "server.hooks.node_timeout", &h.NodeTimeout, DefaultHooksNodeTimeout)
}

// hooks checks server.hooks, when it is written.
func (v *validator) hooks(h *Hooks) {
	if h == nil {
		return
	}
	if u, err := url.Parse(h.URL); h.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail("server.hooks.url", "server.hooks.url must be an http:// or https:// URL of the backend, got %q", h.URL)
	}
	kinds := DefaultHooksEvents()
	if len(h.Events) == 0 {
		v.fail("server.hooks.events", "server.hooks.events needs at least one of %v", kinds)
	}
	for i, kind := range h.Events {
		path := fmt.Sprintf("server.hooks.events[%d]", i)
		if slices.Contains(h.Events[:i], kind) {
			v.fail(path, "event %q is listed twice", kind)
			continue
		}
		v.oneOf(path, kind, kinds...)
	}
	for name := range h.Headers {
		if !validHeaderName(name) {
			v.fail("server.hooks.headers."+name, "server.hooks.headers: %q is not a header name", name)
		}
	}
	v.positive("server.hooks.timeout", h.Timeout)
	v.positive("server.hooks.batch.interval", h.Batch.Interval)
	v.positive("server.hooks.retry.min_backoff", h.Retry.MinBackoff)
	v.positive("server.hooks.retry.max_backoff", h.Retry.MaxBackoff)
	if h.Retry.MaxBackoff > 0 && h.Retry.MaxBackoff < h.Retry.MinBackoff {
		v.fail("server.hooks.retry.max_backoff", "server.hooks.retry.max_backoff (%s) must not be below min_backoff (%s)", h.Retry.MaxBackoff, h.Retry.MinBackoff)
	}
	if h.Retry.MaxAttempts < 0 {
		v.fail("server.hooks.retry.max_attempts", "server.hooks.retry.max_attempts must be 0 (until delivered) or more, got %d", h.Retry.MaxAttempts)
	}
	if h.Batch.Size < 1 || h.Batch.Size > MaxHooksBatchSize {
		v.fail("server.hooks.batch.size", "server.hooks.batch.size must be between 1 and %d, got %d", MaxHooksBatchSize, h.Batch.Size)
	}
	if h.Buffer < 1 {
		v.fail("server.hooks.buffer", "server.hooks.buffer must be at least 1, got %d: it bounds the events waiting while the backend is slow or down", h.Buffer)
	}
	if h.BufferBytes <= 0 {
		v.fail("server.hooks.buffer_bytes", "server.hooks.buffer_bytes must be greater than 0: it bounds the memory the events waiting may hold")
	}
	if h.FlushTimeout < 0 {
		v.fail("server.hooks.flush_timeout", "server.hooks.flush_timeout must be 0 or more")
	}
	if h.NodeTimeout < MinHooksNodeTimeout {
		v.fail("server.hooks.node_timeout", "server.hooks.node_timeout must be at least %s, got %s: nodes renew their lease every third of it", MinHooksNodeTimeout, h.NodeTimeout)
	}
}

// positive fails a duration at path that is not above 0.
func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.fail(path, "%s must be greater than 0", path)
	}
}

// validHeaderName reports whether name is an HTTP header name (a token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r >= 0x7f || r <= ' ' || slices.Contains([]rune(`"(),/:;<=>?@[\]{}`), r) {
			return false
		}
	}
	return http.CanonicalHeaderKey(name) != ""
}
