package handlers

import (
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// webhookHealth logs the outages of one webhook's backend once each, as the
// Redis adapter does its connection: a warning with the cause at the first
// failed call, and an info line with the number of failed calls when the
// backend answers again. Logging each failed event instead would flood the
// log for as long as the outage lasts, at the rate clients send events.
type webhookHealth struct {
	logger *slog.Logger
	target string // the URL without user info or query, which may hold secrets
	// down is read on every call; mu guards the rest.
	down   atomic.Bool
	mu     sync.Mutex
	failed int
	since  time.Time
}

func newWebhookHealth(logger *slog.Logger, rawURL string) *webhookHealth {
	target := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		target = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	return &webhookHealth{logger: logger, target: target}
}

// failure records a call the backend did not answer (unreachable, too slow,
// or a 5xx status), and logs it when it starts an outage.
func (h *webhookHealth) failure(cause error) {
	h.mu.Lock()
	h.failed++
	first := !h.down.Load()
	if first {
		h.down.Store(true)
		h.since = time.Now()
	}
	h.mu.Unlock()
	if first {
		h.logger.Warn("webhook backend failing: events that call it are answered with an upstream error until it recovers",
			"url", h.target, "error", withoutURL(cause))
	}
}

// answered records a call the backend answered, and logs the end of an
// outage.
func (h *webhookHealth) answered() {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	if !h.down.Load() {
		h.mu.Unlock()
		return
	}
	failed, since := h.failed, h.since
	h.down.Store(false)
	h.failed = 0
	h.mu.Unlock()
	h.logger.Info("webhook backend answers again",
		"url", h.target, "failed_calls", failed, "outage", time.Since(since).Round(time.Millisecond).String())
}

// withoutURL drops the request URL net/http puts in front of a transport
// error: its query may hold a secret.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
