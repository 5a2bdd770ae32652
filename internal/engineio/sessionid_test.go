package engineio

import (
	"encoding/base64"
	"testing"
)

func TestSessionIDsAreDistinctBase64URLAndSeededPerServer(t *testing.T) {
	a, b := newSessionIDs(""), newSessionIDs("")
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

func TestTaggedSessionIDsStartWithTheNodeTagAndTellOtherNodesIDs(t *testing.T) {
	ids := newSessionIDs("nodeAAAA")
	other := newSessionIDs("nodeBBBB")
	untagged := newSessionIDs("")
	id := ids.next()
	if len(id) != 28 || id[:8] != "nodeAAAA" {
		t.Fatalf("id %q, want 28 characters starting with the tag", id)
	}
	if _, err := base64.RawURLEncoding.DecodeString(id[8:]); err != nil {
		t.Fatalf("random part of %q is not base64url: %v", id, err)
	}
	tests := []struct {
		sid  string
		want bool
	}{
		{ids.next(), false},
		{other.next(), true},
		{untagged.next(), false},    // too short: no node's id
		{other.next() + "x", false}, // too long
		{"", false},
	}
	for _, tc := range tests {
		if got := ids.foreign(tc.sid); got != tc.want {
			t.Errorf("foreign(%q) = %v, want %v", tc.sid, got, tc.want)
		}
	}
	if untagged.foreign(other.next()) {
		t.Error("a server without a tag took an id for another node's")
	}
}
