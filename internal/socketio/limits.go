package socketio

import (
	"time"

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
}

// Names of the limits, as told to Options.Refused.
const (
	LimitNamespaces = "max_namespaces_per_session"
	LimitRooms      = "max_rooms_per_socket"
	LimitConnect    = "connect_timeout"
)

// SetLimits replaces the limits; sessions and sockets already past a lowered
// limit keep what they hold, and the next CONNECT or Join is checked against
// the new one. A new ConnectTimeout applies to sessions opened afterwards.
func (s *Server) SetLimits(l Limits) {
	if l.ConnectTimeout <= 0 {
		l.ConnectTimeout = s.connectTimeout
	}
	l.MaxNamespacesPerSession = max(l.MaxNamespacesPerSession, 0)
	l.MaxRoomsPerSocket = max(l.MaxRoomsPerSocket, 0)
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
