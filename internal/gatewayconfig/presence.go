package gatewayconfig

import (
	"fmt"
	"path"
	"regexp"
)

// Defaults and bounds of namespaces[].presence.
const (
	// DefaultPresenceMaxMembers bounds the members one answer lists (the
	// count is always whole): a room of a hundred thousand users answers
	// its first thousand, sorted by user id, rather than megabytes.
	DefaultPresenceMaxMembers = 1000
	// MaxPresenceMaxMembers is the highest max_members accepted.
	MaxPresenceMaxMembers = 100000
	// MaxPresenceClaims bounds the claims shown of each member.
	MaxPresenceClaims = 16
)

// DefaultPresenceRooms covers every room.
func DefaultPresenceRooms() []string { return []string{"*"} }

// Presence is who is in a namespace's rooms: the users of the rooms whose
// names match Rooms, with the claims named in Claims, for the presence
// handler, the presence expressions and the server API.
type Presence struct {
	Rooms      []string `yaml:"rooms" doc:"Patterns of the rooms whose members are told (* matches any run of characters, ? one, [a-z] a class)." default:"[\"*\"]" doctype:"list of patterns"`
	Claims     []string `yaml:"claims" doc:"The claims of the token shown of each member beside its user id (sub), such as name; never the token itself." default:"[]" doctype:"list of claim names, at most 16"`
	Announce   bool     `yaml:"announce" doc:"Send presence:join to a room's sockets when a user's first socket joins it and presence:leave when its last leaves, with {room, user, claims}." default:"false"`
	MaxMembers int      `yaml:"max_members" doc:"The most members one answer lists, the first by user id; the count is always the whole room's." default:"1000" doctype:"integer, 1–100000"`
}

// Covers reports whether the presence covers room.
func (p *Presence) Covers(room string) bool {
	if p == nil {
		return false
	}
	for _, pattern := range p.Rooms {
		if ok, _ := path.Match(pattern, room); ok {
			return true
		}
	}
	return false
}

// presenceDefaults fills in the namespace's presence, when it has one.
func (c *Config) presenceDefaults(ns *Namespace) {
	p := ns.Presence
	if p == nil {
		return
	}
	path := "namespaces." + ns.Name + ".presence."
	setDefault(c, path+"rooms", &p.Rooms, DefaultPresenceRooms())
	setDefault(c, path+"max_members", &p.MaxMembers, DefaultPresenceMaxMembers)
}

var claimName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$`)

// presence checks a namespace's presence.
func (v *validator) presence(ns Namespace) {
	p := ns.Presence
	if p == nil {
		return
	}
	prefix := "namespaces." + ns.Name + ".presence."
	for i, pattern := range p.Rooms {
		if _, err := path.Match(pattern, ""); err != nil || pattern == "" {
			v.fail(fmt.Sprintf("%srooms[%d]", prefix, i), "presence: %q is not a room pattern (* any run of characters, ? one, [a-z] a class)", pattern)
		}
	}
	if len(p.Claims) > MaxPresenceClaims {
		v.fail(prefix+"claims", "presence: at most %d claims are shown, got %d", MaxPresenceClaims, len(p.Claims))
	}
	for i, name := range p.Claims {
		if !claimName.MatchString(name) {
			v.fail(fmt.Sprintf("%sclaims[%d]", prefix, i), "presence: %q is not a claim name", name)
		}
	}
	if p.MaxMembers < 1 || p.MaxMembers > MaxPresenceMaxMembers {
		v.fail(prefix+"max_members", "presence: max_members must be 1 to %d, got %d", MaxPresenceMaxMembers, p.MaxMembers)
	}
}
