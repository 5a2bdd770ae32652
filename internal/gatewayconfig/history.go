package gatewayconfig

import (
	"fmt"
	"path"
	"time"
)

// Defaults of namespaces[].history.
const (
	DefaultHistorySize     = 100
	DefaultHistoryTTL      = Duration(10 * time.Minute)
	DefaultHistoryMaxBytes = 64 * Megabyte
)

// DefaultHistoryRooms keeps the history of every room.
func DefaultHistoryRooms() []string { return []string{"*"} }

// History is a namespace's room history: the last messages sent to the
// rooms whose names match Rooms, for the history handler and the server API.
type History struct {
	Rooms    []string `yaml:"rooms" doc:"Patterns of the rooms whose history is kept (* matches any run of characters, ? one, [a-z] a class)." default:"[\"*\"]" doctype:"list of patterns"`
	Size     int      `yaml:"size" doc:"The messages kept per room, the newest." default:"100" doctype:"integer, 1–10000"`
	TTL      Duration `yaml:"ttl" doc:"How long a message is kept." default:"10m" doctype:"duration > 0"`
	MaxBytes Size     `yaml:"max_bytes" doc:"The bytes of every room's history together: kept by one process with the memory adapter, in Redis for the namespace with the Redis adapter (counted as the JSON kept there, 192 bytes and the room name per message and 5 KiB per room); the oldest messages go first past it, whatever their room." default:"64MB" doctype:"size > 0"`
}

// Keeps reports whether the history covers room.
func (h *History) Keeps(room string) bool {
	if h == nil {
		return false
	}
	for _, pattern := range h.Rooms {
		if ok, _ := path.Match(pattern, room); ok {
			return true
		}
	}
	return false
}

// historyDefaults fills in the namespace's history, when it has one.
func (c *Config) historyDefaults(ns *Namespace) {
	h := ns.History
	if h == nil {
		return
	}
	path := "namespaces." + ns.Name + ".history."
	setDefault(c, path+"rooms", &h.Rooms, DefaultHistoryRooms())
	setDefault(c, path+"size", &h.Size, DefaultHistorySize)
	setDefault(c, path+"ttl", &h.TTL, DefaultHistoryTTL)
	setDefault(c, path+"max_bytes", &h.MaxBytes, DefaultHistoryMaxBytes)
}

// history checks a namespace's history.
func (v *validator) history(ns Namespace) {
	h := ns.History
	if h == nil {
		return
	}
	prefix := "namespaces." + ns.Name + ".history."
	for i, pattern := range h.Rooms {
		if _, err := path.Match(pattern, ""); err != nil || pattern == "" {
			v.fail(fmt.Sprintf("%srooms[%d]", prefix, i), "history: %q is not a room pattern (* any run of characters, ? one, [a-z] a class)", pattern)
		}
	}
	if h.Size < 1 || h.Size > 10000 {
		v.fail(prefix+"size", "history: size must be 1 to 10000, got %d", h.Size)
	}
	if h.TTL <= 0 {
		v.fail(prefix+"ttl", "history: ttl must be above 0, got %s", h.TTL)
	}
	if h.MaxBytes <= 0 {
		v.fail(prefix+"max_bytes", "history: max_bytes must be above 0, got %s", h.MaxBytes)
	}
}
