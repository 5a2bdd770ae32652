package cluster

import (
	"crypto/rand"
	"encoding/base64"
)

// TagLen is the length of a node tag: 8 characters of base64url (48 random
// bits), so that two live nodes practically never draw the same one.
const TagLen = 8

// NewTag draws a node tag from crypto/rand.
func NewTag() string {
	var raw [TagLen * 6 / 8]byte
	// crypto/rand.Read does not fail on supported platforms.
	_, _ = rand.Read(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// TagOf returns the tag a node's session id starts with, and false when
// sid is too short to carry one.
func TagOf(sid string) (string, bool) {
	if len(sid) <= TagLen {
		return "", false
	}
	return sid[:TagLen], true
}
