package engineio

import (
	"encoding/base64"
	"testing"
)

func TestSessionIDsAreDistinctBase64URLAndSeededPerServer(t *testing.T) {
	a, b := newSessionIDs(), newSessionIDs()
	seen := make(map[string]bool)
	for range 10000 {
		id := a.next()
		if len(id) != 20 {
			t.Fatalf("id %q has %d characters, want 20", id, len(id))
		}
		if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
			t.Fatalf("id %q is not base64url: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q drawn twice", id)
		}
		seen[id] = true
	}
	// Two servers seeded from crypto/rand do not share a sequence.
	if first := b.next(); seen[first] {
		t.Fatalf("second generator repeated %q from the first", first)
	}
}
