package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// Connection state recovery, wire-compatible with socket.io-client's
// connectionStateRecovery: in a namespace that recovers, the CONNECT ack
// carries a private session id (pid) besides the socket id, and every
// event the server sends without asking for an ack carries its offset in
// the namespace's stream as an extra, last argument. A client that lost its
// connection sends {pid, offset} back in its CONNECT payload; when the
// session is still kept, the new socket takes over its id and rooms, the
// CONNECT ack repeats the pid (socket.recovered on the client), and the
// packets it missed follow, in order, before any new one.

// Recovery is what a Server needs for the namespaces that recover
// sessions. The gateway implements it over the cluster adapter.
type Recovery interface {
	// Window is how long a socket of namespace that lost its connection
	// stays recoverable; 0 when the namespace does not recover.
	Window(namespace string) time.Duration
	// HoldLimits bound the live packets a socket of namespace holds while
	// it reads what it missed, by count and by their encoded bytes; past
	// either it is closed. The stream's own bounds fit: a socket that
	// would hold more missed more than the stream keeps.
	HoldLimits(namespace string) (packets int, bytes int64)
	// Record sends a broadcast through namespace's stream. It reaches the
	// sockets of every node, this one's included, through DeliverRecorded.
	Record(ctx context.Context, namespace string, rooms, except []string, event string, args []any) error
	// Head is the offset of namespace's last recorded packet.
	Head(ctx context.Context, namespace string) (string, error)
	// Save keeps a session until s.Expires.
	Save(ctx context.Context, s *Session) error
	// Take removes and returns the session of pid, nil when none is kept.
	Take(ctx context.Context, pid string) (*Session, error)
	// Since returns the packets recorded in namespace after offset;
	// complete is false when some are no longer kept.
	Since(ctx context.Context, namespace, offset string) (packets []Recorded, complete bool, err error)
	// After compares two offsets of one stream: whether a comes after b.
	After(a, b string) bool
}

// Session is what is kept of a socket that lost its connection.
type Session struct {
	ID, PID, Namespace, Subject string
	Rooms                       []string
	// Start is the stream offset when the socket connected.
	Start   string
	Expires time.Time
}

// Recorded is one packet of a namespace's stream: an event for the sockets
// in any of Rooms (all when empty) or of User, minus those in Except.
type Recorded struct {
	Offset string
	Rooms  []string
	Except []string
	User   string
	Event  string
	Args   gatehouse.Args
}

// recoveryTimeout bounds each call to the store on the CONNECT and
// disconnect paths.
const recoveryTimeout = 2 * time.Second

// recoverableReasons are the disconnections after which a session is kept,
// as in the reference server: the connection was lost, not ended on
// purpose.
var recoverableReasons = map[string]bool{
	"transport error":      true,
	"transport close":      true,
	"forced close":         true,
	"ping timeout":         true,
	"server shutting down": true,
	"forced server close":  true,
}

// heldPacket is a live packet that reached a socket while its missed ones
// were being read.
type heldPacket struct {
	offset string
	msgs   []engineio.Message
}

// holdState is what a recovering socket holds while it catches up, and
// its bounds. The packets are the encoded ones, shared with the packet's
// other recipients, but a socket that holds one keeps it alive until its
// catch-up ends: so the bytes are bounded, not only the count, or a
// recovery that stalls while large broadcasts go on would keep all of them.
type holdState struct {
	packets    []heldPacket
	bytes      int64
	maxPackets int
	maxBytes   int64
}

// add holds a packet, or returns ErrHoldFull when it would exceed a bound.
func (h *holdState) add(offset string, msgs []engineio.Message) error {
	size := int64(len(offset))
	for _, m := range msgs {
		size += int64(len(m.Data))
	}
	if len(h.packets) >= h.maxPackets || h.bytes+size > h.maxBytes {
		return ErrHoldFull
	}
	h.packets = append(h.packets, heldPacket{offset: offset, msgs: msgs})
	h.bytes += size
	return nil
}

// recovering reports the namespace's recovery window, 0 when off.
func (s *Server) recoveryWindow(namespace string) time.Duration {
	if s.recovery == nil {
		return 0
	}
	return s.recovery.Window(namespace)
}

// recoveryRequest reads the pid and offset a client sends back in its
// CONNECT payload; both empty when there are none.
func recoveryRequest(auth json.RawMessage) (pid, offset string) {
	if len(auth) == 0 || auth[0] != '{' {
		return "", ""
	}
	var fields struct {
		PID    any `json:"pid"`
		Offset any `json:"offset"`
	}
	if json.Unmarshal(auth, &fields) != nil {
		return "", ""
	}
	pid, _ = fields.PID.(string)
	offset, _ = fields.Offset.(string)
	if len(pid) > 64 || len(offset) > 64 {
		return "", ""
	}
	return pid, offset
}

// prepareRecovery gives s, in a namespace that recovers, its private
// session id and stream start, and resumes the session the client asks
// for when it can: s then has that session's id and holds live packets
// until catchUp. It returns nil for a new session.
func (c *client) prepareRecovery(s *Socket, auth json.RawMessage) *resumption {
	if c.server.recoveryWindow(s.ns.name) <= 0 {
		return nil
	}
	var resumed *resumption
	if pid, offset := recoveryRequest(auth); pid != "" {
		resumed = c.resume(s, pid, offset)
	}
	if resumed != nil {
		s.id = resumed.session.ID
		s.recovered = true
		packets, bytes := c.server.recovery.HoldLimits(s.ns.name)
		s.extras().rec = &recoveryState{pid: resumed.session.PID, start: resumed.session.Start,
			hold: &holdState{maxPackets: packets, maxBytes: bytes}}
		return resumed
	}
	rec := &recoveryState{pid: newSocketID()}
	ctx, cancel := context.WithTimeout(s.ctx(), recoveryTimeout)
	defer cancel()
	start, err := c.server.recovery.Head(ctx, s.ns.name)
	if err != nil {
		// The session can still be recovered from the client's offset,
		// once it has received a packet.
		c.log().Debug("socket.io recovery: stream head not read", "nsp", s.ns.name, "err", err)
	}
	rec.start = start
	s.extras().rec = rec
	return nil
}

// resumption is a session being recovered: the socket takes its id and
// rooms, and is sent missed before anything live.
type resumption struct {
	session *Session
	missed  []Recorded
	last    string // offset of the last packet read
}

// resume takes the session of pid for s, which Connect has just allowed,
// and reads what it missed after offset (or after the session's start when
// the client saw nothing). It returns nil when the session cannot be
// recovered: none kept, another namespace or user, or packets it missed no
// longer kept; the client then gets a new session.
func (c *client) resume(s *Socket, pid, offset string) *resumption {
	store := c.server.recovery
	ctx, cancel := context.WithTimeout(s.ctx(), recoveryTimeout)
	defer cancel()
	session, err := store.Take(ctx, pid)
	if err != nil {
		c.log().Warn("socket.io recovery: session not read", "nsp", s.ns.name, "err", err)
		return nil
	}
	if session == nil || session.Namespace != s.ns.name || session.Subject != s.Subject() || !time.Now().Before(session.Expires) {
		return nil
	}
	if offset == "" {
		offset = session.Start
	}
	missed, complete, err := store.Since(ctx, s.ns.name, offset)
	if err != nil {
		c.log().Warn("socket.io recovery: stream not read", "nsp", s.ns.name, "err", err)
		return nil
	}
	if !complete {
		return nil
	}
	r := &resumption{session: session, last: offset}
	for _, p := range missed {
		if session.gets(p) {
			r.missed = append(r.missed, p)
		}
		r.last = p.Offset
	}
	return r
}

// gets reports whether the session's socket was a recipient of p.
func (sess *Session) gets(p Recorded) bool {
	for _, id := range p.Except {
		if id == sess.ID {
			return false
		}
	}
	if p.User != "" {
		return p.User == sess.Subject
	}
	if len(p.Rooms) == 0 {
		return true
	}
	for _, room := range p.Rooms {
		if room == sess.ID {
			return true
		}
		for _, joined := range sess.Rooms {
			if room == joined {
				return true
			}
		}
	}
	return false
}

// catchUp sends what a resumed socket missed, then what arrived live while
// it was read (holding), skipping what the reading already covered, and
// lets live packets through. It reads the stream once more after the socket
// joined its rooms, for packets recorded between the first read and then.
func (c *client) catchUp(s *Socket, r *resumption) error {
	ctx, cancel := context.WithTimeout(s.ctx(), recoveryTimeout)
	defer cancel()
	store := c.server.recovery
	more, complete, err := store.Since(ctx, s.ns.name, r.last)
	if err != nil {
		return fmt.Errorf("read the stream: %w", err)
	}
	if !complete {
		return errors.New("packets trimmed while recovering")
	}
	for _, p := range more {
		if r.session.gets(p) {
			r.missed = append(r.missed, p)
		}
		r.last = p.Offset
	}
	for _, p := range r.missed {
		msgs, err := EncodeEvent(s.ns.name, NoID, p.Event, p.Args, p.Offset)
		if err != nil {
			return fmt.Errorf("encode a missed packet: %w", err)
		}
		if err := s.send(msgs); err != nil {
			return err
		}
	}
	return s.releaseHeld(store, r.last)
}

// releaseHeld sends the live packets held during recovery that come after
// last, and stops holding.
func (s *Socket) releaseHeld(store Recovery, last string) error {
	rec := s.recovery()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.hold == nil {
		return ErrDisconnected // closed meanwhile, what it held let go
	}
	held := rec.hold.packets
	rec.hold = nil
	rec.caughtUp = last
	for _, h := range held {
		if !store.After(h.offset, last) {
			continue
		}
		if err := s.send(h.msgs); err != nil {
			return err
		}
	}
	return nil
}

// sendRecorded sends a recorded packet, or holds it while the socket is
// recovering.
//
// A packet is recorded in the stream before it is delivered live, so the
// catch-up's last read can find one whose live delivery reaches the socket
// only after the catch-up let live packets through: the catch-up sent it
// already, and it is skipped here rather than sent twice.
func (s *Socket) sendRecorded(offset string, msgs []engineio.Message) error {
	if rec := s.recovery(); rec != nil {
		rec.mu.Lock()
		if rec.hold != nil {
			defer rec.mu.Unlock()
			return rec.hold.add(offset, msgs)
		}
		caughtUp := rec.caughtUp
		rec.mu.Unlock()
		if store := s.client.server.recovery; caughtUp != "" && offset != "" && store != nil && !store.After(offset, caughtUp) {
			return nil
		}
	}
	return s.send(msgs)
}

// ErrHoldFull is returned when a recovering socket would hold more live
// packets, or more bytes of them, than its namespace's HoldLimits; it is
// closed.
var ErrHoldFull = errors.New("socketio: too many packets arrived while recovering")

// saveSession keeps the session of a socket whose connection was lost, so
// that its client can recover it. rooms are the socket's rooms as it
// closed.
func (s *Socket) saveSession(reason string, rooms []string) {
	store := s.client.server.recovery
	rec := s.recovery()
	if store == nil || rec == nil || !recoverableReasons[reason] {
		return
	}
	window := store.Window(s.ns.name)
	if window <= 0 {
		return
	}
	expires := time.Now().Add(window)
	if exp, ok := tokenExpiry(s.Claim("exp")); ok && exp.Before(expires) {
		expires = exp // recovery never outlives the token
	}
	if !time.Now().Before(expires) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryTimeout)
	defer cancel()
	err := store.Save(ctx, &Session{
		ID: s.id, PID: rec.pid, Namespace: s.ns.name, Subject: s.Subject(),
		Rooms: rooms, Start: rec.start, Expires: expires,
	})
	if err != nil {
		s.client.log().Warn("socket.io recovery: session not kept", "nsp", s.ns.name, "err", err)
	}
}

// tokenExpiry reads the exp claim.
func tokenExpiry(exp any) (time.Time, bool) {
	switch v := exp.(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return time.Unix(n, 0), true
		}
	case int64:
		return time.Unix(v, 0), true
	}
	return time.Time{}, false
}

// connectPayload is the CONNECT ack's data: the socket id and, in a
// namespace that recovers, the private session id.
func connectPayload(id, pid string) json.RawMessage {
	if pid == "" {
		return sidPayload(id)
	}
	out := make([]byte, 0, len(id)+len(pid)+20)
	out = append(out, `{"sid":"`...)
	out = append(out, id...) // base64url: no characters to escape
	out = append(out, `","pid":"`...)
	out = append(out, pid...)
	return append(out, `"}`...)
}
