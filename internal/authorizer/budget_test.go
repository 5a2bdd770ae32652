package authorizer

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// heapAlloc returns the bytes of live objects after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// An attacker presents a new cookie on every connect, and the backend
// echoes part of what it is sent into the claims: each answer is
// remembered, yet the cache holds no more than its byte budget.
func TestCacheFilledByDistinctClientsStaysWithinItsByteBudget(t *testing.T) {
	const (
		budget   = 1 << 20
		attempts = 3000
		echoed   = 2 << 10
	)
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		answerJSON(map[string]any{"allow": true, "claims": map[string]any{
			"sub": r.Cookies["sid"], "echo": strings.Repeat("e", echoed)}})(w, r)
	})
	a := newAuthorizer(t, Config{URL: b.srv.URL, Cache: CacheConfig{Size: 1 << 20, TTL: time.Hour, MaxBytes: budget}}, Options{})
	// One call first, so that the HTTP connections and their buffers
	// are there before the measure.
	if _, err := a.Authorize(context.Background(), withSid("warm-up")); err != nil {
		t.Fatal(err)
	}
	before := heapAlloc()
	for i := range attempts {
		if _, err := a.Authorize(context.Background(), withSid(fmt.Sprintf("attacker-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	entries, bytes := a.cache.stats()
	grown := int64(heapAlloc()) - int64(before)
	t.Logf("%d answers of %d bytes: cache holds %d entries, %d bytes; heap grew %d KiB", attempts, echoed, entries, bytes, grown>>10)
	if bytes > budget {
		t.Fatalf("cache counts %d bytes, budget %d", bytes, budget)
	}
	// The budget counts the answers' bytes with a fixed overhead per
	// entry; the live heap may exceed it by 1 MiB (the claims' size
	// classes, the map) and no more: without the byte bound it grows by
	// the ~7 MiB the attacker made the backend answer.
	if grown > budget+1<<20 {
		t.Fatalf("heap grew %d KiB for a cache budget of %d KiB", grown>>10, budget>>10)
	}
}
