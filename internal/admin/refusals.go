package admin

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Stages at which a refusal happens, for Refusal.Stage.
const (
	// StageUpgrade is an Engine.IO request refused at the upgrade-time
	// token check.
	StageUpgrade = "upgrade"
	// StageConnect is a namespace CONNECT answered with CONNECT_ERROR.
	StageConnect = "connect"
	// StageEvent is an event answered with an error.
	StageEvent = "event"
	// StageLimit is a connection or request refused by a limit of
	// server.limits before it reached a namespace.
	StageLimit = "limit"
)

// Bounds of each field a Refusal keeps. Most fields come from clients
// (event names, namespaces) or quote them (reasons), so each is cut to a
// few dozen bytes and copied: a kept refusal then holds at most
// maxEntryBytes, never the packet it came from.
const (
	maxNameBytes    = 128
	maxReasonBytes  = 256
	maxAddressBytes = 64
	maxCodeBytes    = 64
	// maxEntryBytes bounds the strings of one kept refusal.
	maxEntryBytes = 3*maxNameBytes + maxReasonBytes + maxAddressBytes + maxCodeBytes
)

// EntryBytes is what one kept refusal may hold at most, its strings and
// its fixed part, for the memory budget of server.admin.recent_refusals.
const EntryBytes = maxEntryBytes + 160

// Refusal is one refusal the gateway answered: when, where, with which C2
// code and why. It carries no token and no payload: the reason is the
// message the client was sent, cut short.
type Refusal struct {
	Time      time.Time `json:"time"`
	Node      string    `json:"node,omitempty"`
	Stage     string    `json:"stage"`
	Namespace string    `json:"namespace,omitempty"`
	Event     string    `json:"event,omitempty"`
	Code      string    `json:"code"`
	Reason    string    `json:"reason,omitempty"`
	Address   string    `json:"address,omitempty"`
}

// Ring keeps the last refusals, a fixed number of them, each cut to
// EntryBytes. Its methods are safe for concurrent use and do nothing on a
// nil *Ring, so that a gateway without the operator's view keeps none.
type Ring struct {
	mu      sync.Mutex
	entries []Refusal
	next    int
	full    bool
	total   uint64
}

// NewRing returns a ring of size refusals; nil when size is not positive.
func NewRing(size int) *Ring {
	if size <= 0 {
		return nil
	}
	return &Ring{entries: make([]Refusal, size)}
}

// Add keeps r in place of the oldest refusal. Its strings are cut and
// copied before the lock is taken.
func (r *Ring) Add(f Refusal) {
	if r == nil {
		return
	}
	f = f.bounded()
	r.mu.Lock()
	r.entries[r.next] = f
	r.next++
	if r.next == len(r.entries) {
		r.next, r.full = 0, true
	}
	r.total++
	r.mu.Unlock()
}

// Recent lists the kept refusals, newest first, and how many were added
// since the ring was made.
func (r *Ring) Recent() (recent []Refusal, total uint64) {
	if r == nil {
		return nil, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.entries)
	}
	recent = make([]Refusal, 0, n)
	for i := 1; i <= n; i++ {
		recent = append(recent, r.entries[(r.next-i+len(r.entries))%len(r.entries)])
	}
	return recent, r.total
}

// Size is how many refusals the ring keeps at most.
func (r *Ring) Size() int {
	if r == nil {
		return 0
	}
	return len(r.entries)
}

// bounded returns f with every string cut to its bound and copied, so
// that none shares the memory of a larger string (a packet) it was cut
// from.
func (f Refusal) bounded() Refusal {
	f.Node = clip(f.Node, maxNameBytes)
	f.Stage = clip(f.Stage, maxCodeBytes)
	f.Namespace = clip(f.Namespace, maxNameBytes)
	f.Event = clip(f.Event, maxNameBytes)
	f.Code = clip(f.Code, maxCodeBytes)
	f.Reason = clip(f.Reason, maxReasonBytes)
	f.Address = clip(f.Address, maxAddressBytes)
	return f
}

// clip cuts s to at most limit bytes on a UTF-8 boundary, marking a cut
// with an ellipsis (within the limit), and returns a copy of its own.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return strings.Clone(s)
	}
	const mark = "…"
	cut := limit - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark // a new string: the concatenation copies
}
