package adapter

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// maxMemorySessions bounds the sessions kept by a Memory adapter: past it,
// a socket that loses its connection is not kept for recovery (its client
// gets a new session), so that connecting and dropping in a loop cannot
// grow the process.
const maxMemorySessions = 100_000

// defaultStreamBytes bounds a stream in the process when the limits give
// no byte count.
const defaultStreamBytes = 16 << 20

// memoryRecorder keeps the streams and sessions of one process.
type memoryRecorder struct {
	mu      sync.Mutex // guards streams (the map); each stream has its own lock
	streams map[string]*memoryStream

	sessionsMu sync.Mutex
	sessions   map[string]*Session
	swept      time.Time
}

// memoryStream is one namespace's packets, oldest first, numbered from 1.
type memoryStream struct {
	mu      sync.Mutex
	entries []memoryEntry // entries[0] has sequence first
	first   uint64
	next    uint64 // sequence of the next packet
	bytes   int64
}

type memoryEntry struct {
	msg  *Message
	at   time.Time
	size int64
}

func (r *memoryRecorder) stream(namespace string) *memoryStream {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams == nil {
		r.streams = make(map[string]*memoryStream)
	}
	s := r.streams[namespace]
	if s == nil {
		s = &memoryStream{first: 1, next: 1}
		r.streams[namespace] = s
	}
	return s
}

func memoryOffset(seq uint64) string { return "0-" + strconv.FormatUint(seq, 10) }

// Record appends msg and delivers it to this process's receiver, under the
// stream's lock so that deliveries keep the stream's order.
func (m *Memory) Record(ctx context.Context, msg *Message, limits StreamLimits) error {
	if limits.MaxEntries <= 0 {
		limits.MaxEntries = defaultStreamEntries
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = defaultStreamBytes
	}
	s := m.rec.stream(msg.Namespace)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	msg.Offset = memoryOffset(s.next)
	size := msg.size()
	s.entries = append(s.entries, memoryEntry{msg: msg, at: now, size: size})
	s.bytes += size
	s.next++
	s.trim(limits, now)
	m.mu.Lock()
	recv := m.recv
	m.mu.Unlock()
	if recv != nil {
		recv.Deliver(ctx, msg)
	}
	return nil
}

// trim drops the oldest entries past limits; s.mu is held.
func (s *memoryStream) trim(limits StreamLimits, now time.Time) {
	drop := 0
	for drop < len(s.entries) {
		e := s.entries[drop]
		over := (limits.MaxEntries > 0 && len(s.entries)-drop > limits.MaxEntries) ||
			(limits.MaxBytes > 0 && s.bytes > limits.MaxBytes) ||
			(limits.MaxAge > 0 && now.Sub(e.at) > limits.MaxAge)
		if !over {
			break
		}
		s.bytes -= e.size
		drop++
	}
	if drop == 0 {
		return
	}
	clear(s.entries[:drop])
	s.entries = s.entries[drop:]
	s.first += uint64(drop)
	if len(s.entries) == 0 {
		s.entries = nil // let the backing array go
	}
}

// Head is the offset of the namespace's last packet.
func (m *Memory) Head(_ context.Context, namespace string) (string, error) {
	s := m.rec.stream(namespace)
	s.mu.Lock()
	defer s.mu.Unlock()
	return memoryOffset(s.next - 1), nil
}

// Since returns the packets after offset.
func (m *Memory) Since(_ context.Context, namespace, offset string) ([]*Message, bool, error) {
	hi, seq, err := ParseOffset(offset)
	if err != nil || hi != 0 {
		return nil, false, nil
	}
	s := m.rec.stream(namespace)
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq >= s.next || seq+1 < s.first {
		// From another process's stream, or packets after it trimmed.
		return nil, seq+1 == s.next, nil
	}
	from := int(seq + 1 - s.first)
	out := make([]*Message, 0, len(s.entries)-from)
	for _, e := range s.entries[from:] {
		out = append(out, e.msg)
	}
	return out, true, nil
}

// SaveSession keeps s until it expires, unless the process already keeps
// maxMemorySessions.
func (m *Memory) SaveSession(_ context.Context, s *Session) error {
	r := &m.rec
	r.sessionsMu.Lock()
	defer r.sessionsMu.Unlock()
	now := time.Now()
	if r.sessions == nil {
		r.sessions = make(map[string]*Session)
	}
	if now.Sub(r.swept) > time.Second || len(r.sessions) >= maxMemorySessions {
		for pid, other := range r.sessions {
			if !now.Before(other.Expires) {
				delete(r.sessions, pid)
			}
		}
		r.swept = now
	}
	if len(r.sessions) >= maxMemorySessions {
		return ErrSessionsFull
	}
	r.sessions[s.PID] = s
	return nil
}

// TakeSession removes and returns the session of pid.
func (m *Memory) TakeSession(_ context.Context, pid string) (*Session, error) {
	r := &m.rec
	r.sessionsMu.Lock()
	defer r.sessionsMu.Unlock()
	s := r.sessions[pid]
	delete(r.sessions, pid)
	if s == nil || !time.Now().Before(s.Expires) {
		return nil, nil
	}
	return s, nil
}
