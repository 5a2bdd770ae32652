package adapter

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Room history (namespaces[].history): the last messages sent to a room,
// for a client that just arrived. The Memory adapter keeps them in the
// process, bounded per room by count and age and, all rooms together, by
// bytes; the Redis adapter keeps a Redis stream per room, trimmed to its
// count and, a namespace's rooms together, to its bytes, expiring with its
// age.

// HistoryLimits bound what a room's history keeps.
type HistoryLimits struct {
	// Size is the number of messages kept per room.
	Size int
	// TTL drops messages older than it.
	TTL time.Duration
	// MaxBytes bounds the messages kept, every room together: by the
	// process with Memory, by Redis for the namespace with Redis.
	MaxBytes int64
}

// HistoryKeeper is the part of an adapter that keeps room histories.
type HistoryKeeper interface {
	// AppendHistory adds msg to the history of room in msg's namespace.
	AppendHistory(ctx context.Context, room string, msg *Message, limits HistoryLimits) error
	// History returns the messages kept of room, oldest first, with Offset
	// set: those after since ("" for all), the last limit of them (0 for
	// all), none older than limits.TTL.
	History(ctx context.Context, namespace, room, since string, limit int, limits HistoryLimits) ([]*Message, error)
}

// memoryHistory keeps every room's messages in one FIFO, so that the
// oldest message of the process goes first when MaxBytes is reached.
type memoryHistory struct {
	mu    sync.Mutex
	rooms map[string]*roomHistory
	fifo  []historyRef // every kept message, oldest first, and stale refs
	kept  int          // the messages kept, every room together
	bytes int64
	seq   uint64
}

type roomHistory struct {
	entries []memoryEntry // oldest first
}

type historyRef struct {
	key string
	seq uint64
}

func historyKey(namespace, room string) string { return namespace + "\x00" + room }

// AppendHistory keeps msg in the room's history.
func (m *Memory) AppendHistory(_ context.Context, room string, msg *Message, limits HistoryLimits) error {
	h := &m.history
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms == nil {
		h.rooms = make(map[string]*roomHistory)
	}
	key := historyKey(msg.Namespace, room)
	r := h.rooms[key]
	if r == nil {
		r = &roomHistory{}
		h.rooms[key] = r
	}
	h.seq++
	kept := *msg
	kept.Offset = "0-" + strconv.FormatUint(h.seq, 10)
	size := kept.size()
	r.entries = append(r.entries, memoryEntry{msg: &kept, at: now, size: size})
	h.fifo = append(h.fifo, historyRef{key: key, seq: h.seq})
	h.bytes += size
	h.kept++
	for limits.Size > 0 && len(r.entries) > limits.Size {
		h.dropFront(key, r)
	}
	for limits.MaxBytes > 0 && h.bytes > limits.MaxBytes && len(h.fifo) > 0 {
		h.dropOldest()
	}
	h.compact()
	return nil
}

// dropFront drops the oldest message of one room; h.mu is held. Its entry
// in the FIFO becomes stale and is skipped later.
func (h *memoryHistory) dropFront(key string, r *roomHistory) {
	h.bytes -= r.entries[0].size
	h.kept--
	r.entries[0] = memoryEntry{}
	r.entries = r.entries[1:]
	if len(r.entries) == 0 {
		delete(h.rooms, key)
	}
}

// dropOldest drops the process's oldest message still kept; h.mu is held.
func (h *memoryHistory) dropOldest() {
	for len(h.fifo) > 0 {
		ref := h.fifo[0]
		h.fifo = h.fifo[1:]
		r := h.rooms[ref.key]
		if r == nil || len(r.entries) == 0 || offsetSeq(r.entries[0].msg.Offset) != ref.seq {
			continue // already dropped by its room's own bound
		}
		h.dropFront(ref.key, r)
		return
	}
}

// compact drops stale FIFO entries from the front and lets the FIFO's
// backing array go when it is mostly empty; h.mu is held. Stale entries
// behind a kept one (a room trimmed by its size while an older room keeps
// its messages) are dropped once they are half the FIFO, so that it stays
// within twice the messages kept however many are sent.
func (h *memoryHistory) compact() {
	if len(h.fifo) > 2*h.kept+64 {
		h.fifo = slices.DeleteFunc(h.fifo, h.stale)
	}
	for len(h.fifo) > 0 {
		ref := h.fifo[0]
		r := h.rooms[ref.key]
		if r != nil && len(r.entries) > 0 && offsetSeq(r.entries[0].msg.Offset) <= ref.seq {
			break
		}
		h.fifo = h.fifo[1:]
	}
	if cap(h.fifo) > 64 && len(h.fifo) < cap(h.fifo)/4 {
		h.fifo = append([]historyRef(nil), h.fifo...)
	}
}

// stale reports whether ref is a message its room no longer keeps; a room
// drops its messages oldest first, so those from its first kept on are kept.
func (h *memoryHistory) stale(ref historyRef) bool {
	r := h.rooms[ref.key]
	return r == nil || len(r.entries) == 0 || ref.seq < offsetSeq(r.entries[0].msg.Offset)
}

func offsetSeq(offset string) uint64 {
	_, seq, _ := ParseOffset(offset)
	return seq
}

// History returns the room's messages.
func (m *Memory) History(_ context.Context, namespace, room, since string, limit int, limits HistoryLimits) ([]*Message, error) {
	if since != "" {
		if _, _, err := ParseOffset(since); err != nil {
			return nil, fmt.Errorf("adapter: history since %q: %w", since, err)
		}
	}
	h := &m.history
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[historyKey(namespace, room)]
	if r == nil {
		return nil, nil
	}
	var out []*Message
	now := time.Now()
	for _, e := range r.entries {
		if limits.TTL > 0 && now.Sub(e.at) > limits.TTL {
			continue
		}
		if since != "" && CompareOffsets(e.msg.Offset, since) <= 0 {
			continue
		}
		out = append(out, e.msg)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}
