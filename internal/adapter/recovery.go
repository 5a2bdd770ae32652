package adapter

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Connection state recovery (socket.io's connectionStateRecovery) keeps two
// things per namespace that recovers: a stream of the packets sent to its
// sockets, each with an offset that the client echoes back, and the
// sessions of sockets that lost their connection, by private session id.
// The Memory adapter keeps both in the process; the Redis adapter keeps
// them in Redis (a stream per namespace, a key per session), so that a
// client reconnecting to any node recovers.

// StreamLimits bound what a namespace's stream keeps. Whichever is reached
// first trims the oldest entries; a session whose next packet was trimmed
// cannot be recovered.
type StreamLimits struct {
	// MaxEntries is the number of packets kept.
	MaxEntries int
	// MaxBytes bounds the packets' arguments and attachments kept, in the
	// process (Memory) or in Redis.
	MaxBytes int64
	// MaxAge drops packets older than the recovery window.
	MaxAge time.Duration
}

// Session is what recovery keeps of a socket that lost its connection.
type Session struct {
	// ID is the socket id, kept by the recovered socket.
	ID string `json:"id"`
	// PID is the private session id the client sends back.
	PID       string   `json:"pid"`
	Namespace string   `json:"nsp"`
	Subject   string   `json:"sub,omitempty"`
	Rooms     []string `json:"rooms,omitempty"`
	// Start is the stream's offset when the socket connected: a client
	// that received no packet missed everything after it.
	Start string `json:"start"`
	// Expires ends the recovery window: the disconnection plus the
	// namespace's max_disconnection, or the token's expiry if sooner.
	Expires time.Time `json:"expires"`
}

// Recorder is the part of an adapter that serves connection state
// recovery. Its methods are safe for concurrent use.
type Recorder interface {
	// Record appends a broadcast to its namespace's stream and delivers it,
	// with Offset set, through the Receiver of every node, this one
	// included, in the stream's order: local recipients get it by the same
	// path as remote ones, so that every socket sees offsets increase.
	Record(ctx context.Context, msg *Message, limits StreamLimits) error
	// Head is the offset of the last packet of namespace's stream, or
	// StartOffset when it has none.
	Head(ctx context.Context, namespace string) (string, error)
	// SaveSession keeps s until s.Expires.
	SaveSession(ctx context.Context, s *Session) error
	// TakeSession removes the session of pid and returns it; nil when
	// there is none or it expired. A session is taken once.
	TakeSession(ctx context.Context, pid string) (*Session, error)
	// Since returns the packets of namespace's stream after offset, in
	// order, with Offset set. complete is false when some of them are no
	// longer kept (trimmed, or offset unknown to the stream): then the
	// session cannot be recovered.
	Since(ctx context.Context, namespace, offset string) (msgs []*Message, complete bool, err error)
}

// StartOffset is the offset before the first packet of a stream.
const StartOffset = "0-0"

// ErrSessionsFull is returned by SaveSession when the process keeps as
// many sessions as it may; the socket is not kept for recovery.
var ErrSessionsFull = errors.New("adapter: too many sessions kept for recovery")

// ErrBadOffset is returned for an offset that is not of the form
// "<number>-<number>".
var ErrBadOffset = errors.New("adapter: malformed stream offset")

// ParseOffset splits an offset ("<ms>-<seq>", as Redis stream ids) into
// its two numbers.
func ParseOffset(s string) (hi, lo uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, ErrBadOffset
	}
	if hi, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, ErrBadOffset
	}
	if lo, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, ErrBadOffset
	}
	return hi, lo, nil
}

// CompareOffsets orders two well-formed offsets of one stream: -1, 0 or 1.
// A malformed offset sorts before every well-formed one.
func CompareOffsets(a, b string) int {
	ah, al, aerr := ParseOffset(a)
	bh, bl, berr := ParseOffset(b)
	switch {
	case aerr != nil && berr != nil:
		return 0
	case aerr != nil:
		return -1
	case berr != nil:
		return 1
	case ah != bh:
		return cmpUint(ah, bh)
	}
	return cmpUint(al, bl)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// size is what a recorded message weighs against StreamLimits.MaxBytes.
func (m *Message) size() int64 {
	n := int64(len(m.Event) + len(m.Namespace) + len(m.User) + len(m.Offset))
	for _, a := range m.Args {
		n += int64(len(a))
	}
	for _, a := range m.Attachments {
		n += int64(len(a))
	}
	for _, r := range m.Rooms {
		n += int64(len(r))
	}
	for _, r := range m.Except {
		n += int64(len(r))
	}
	return n
}
