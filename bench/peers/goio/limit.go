package main

import (
	"sync"
	"time"
)

// limiter holds one token bucket per user, as Gatehouse's per_user guard
// and the Node baseline do. Sockets of different users are served on
// different goroutines, so the buckets share a lock.
type limiter struct {
	rate, burst float64
	start       time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Duration // since limiter.start, on the monotonic clock
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, start: time.Now(), buckets: make(map[string]*bucket)}
}

// allow takes one token of user's bucket, or refuses with rate_limited.
func (l *limiter) allow(user string) error {
	now := time.Since(l.start)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[user]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[user] = b
	}
	b.tokens = min(l.burst, b.tokens+(now-b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return &codedError{"rate_limited", "rate limit exceeded"}
	}
	b.tokens--
	return nil
}
