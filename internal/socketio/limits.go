package socketio

import (
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

// Limits bound what one Engine.IO session and its sockets may hold. A zero
// count means no limit.
type Limits struct {
	// ConnectTimeout closes a session that has connected to no namespace
	// in time; zero keeps Options.ConnectTimeout (or its default).
	ConnectTimeout time.Duration
	// MaxNamespacesPerSession refuses a CONNECT that would take a session
	// past that many namespaces (connected or being decided) with the
	// CONNECT_ERROR code limit_exceeded.
	MaxNamespacesPerSession int
	// MaxRoomsPerSocket makes Join fail with the code limit_exceeded once a
	// socket is in that many rooms.
	MaxRoomsPerSocket int
	// MaxPacketBytes bounds one packet's text and binary attachments
	// together (server.max_payload); a session sending more is closed, as
	// the protocol has no refusal for a half-received packet.
	MaxPacketBytes int64
	// BinaryPacketTimeout closes a session whose packet still waits for
	// attachments that long after its text part came.
	BinaryPacketTimeout time.Duration
	// MaxQueuedBytes bounds the payload bytes of the events a socket holds
	// while its Connected hook runs; events past it are refused with
	// payload_too_large. An event arriving when none is held is always
	// taken, so one packet of MaxPacketBytes always fits.
	MaxQueuedBytes int64
}

// Names of the limits, as told to Options.Refused.
const (
	LimitNamespaces = "max_namespaces_per_session"
	LimitRooms      = "max_rooms_per_socket"
	LimitConnect    = "connect_timeout"
	// LimitPacketBytes is a binary packet over Limits.MaxPacketBytes.
	LimitPacketBytes = "max_payload"
	// LimitBinaryTimeout is a binary packet unfinished after
	// Limits.BinaryPacketTimeout.
	LimitBinaryTimeout = "binary_packet_timeout"
	// LimitQueuedBytes is an event refused because its socket holds
	// Limits.MaxQueuedBytes of events already.
	LimitQueuedBytes = "max_queued_bytes_per_socket"
	// LimitQueuedEvents is an event refused because its socket holds
	// MaxQueuedEvents events already.
	LimitQueuedEvents = "max_queued_events_per_socket"
)

// MaxQueuedEvents bounds how many events one socket may hold waiting, in
// the early-event buffer as in the gateway's per-socket queue.
const MaxQueuedEvents = 256

// SetLimits replaces the limits; sessions and sockets already past a lowered
// limit keep what they hold, and the next CONNECT or Join is checked against
// the new one. A new ConnectTimeout applies to sessions opened afterwards, a
// new BinaryPacketTimeout to packets that begin waiting afterwards.
func (s *Server) SetLimits(l Limits) {
	if l.ConnectTimeout <= 0 {
		l.ConnectTimeout = s.connectTimeout
	}
	l.MaxNamespacesPerSession = max(l.MaxNamespacesPerSession, 0)
	l.MaxRoomsPerSocket = max(l.MaxRoomsPerSocket, 0)
	l.MaxPacketBytes = max(l.MaxPacketBytes, 0)
	l.MaxQueuedBytes = max(l.MaxQueuedBytes, 0)
	l.BinaryPacketTimeout = max(l.BinaryPacketTimeout, 0)
	s.limits.Store(&l)
}

// refused reports a refusal to Options.Refused.
func (s *Server) refused(limit string) {
	if s.onRefused != nil {
		s.onRefused(limit)
	}
}

// errTooManyRooms refuses a Join past Limits.MaxRoomsPerSocket.
func errTooManyRooms(limit int) error {
	return gatehouse.Errorf(gatehouse.CodeLimitExceeded, "a socket may be in at most %d rooms", limit).
		With("limit", "max_rooms_per_socket")
}

// errTooManyNamespaces refuses a CONNECT past Limits.MaxNamespacesPerSession.
func errTooManyNamespaces(limit int) error {
	return gatehouse.Errorf(gatehouse.CodeLimitExceeded, "a connection may use at most %d namespaces", limit).
		With("limit", "max_namespaces_per_session")
}

// ErrQueuedEvents refuses an event because its socket holds MaxQueuedEvents
// events waiting already.
var ErrQueuedEvents = gatehouse.Errorf(gatehouse.CodeRateLimited, "too many events waiting for this socket; slow down").
	With("limit", LimitQueuedEvents)

// ErrQueuedBytes refuses an event because its socket holds
// Limits.MaxQueuedBytes of events waiting already.
var ErrQueuedBytes = gatehouse.Errorf(gatehouse.CodePayloadTooLarge, "too many bytes of events waiting for this socket; wait for their answers").
	With("limit", LimitQueuedBytes)

// maxQuoted is how many bytes of a client-supplied name an error message
// or a log line repeats.
const maxQuoted = 64

// ClipName cuts a client-supplied name (an event, a namespace, a room) to
// a few dozen bytes, marking the cut with an ellipsis, so that a message
// quoting it does not send or log back whatever length the client chose.
// The cut falls on a UTF-8 boundary.
func ClipName(name string) string {
	if len(name) <= maxQuoted {
		return name
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}

// EventBytes is what an event holds while it waits: its name, arguments
// and attachments.
func EventBytes(name string, args gatehouse.Args) int64 {
	n := int64(len(name))
	for _, raw := range args.Raw {
		n += int64(len(raw))
	}
	for _, a := range args.Attachments {
		n += int64(len(a))
	}
	return n
}
