// Package sockettest provides a gatehouse.Socket with fixed fields for the
// unit tests of guards and expressions, which read a socket but never act on
// it. Tests of what handlers do to a socket use the real one or record it
// themselves.
package sockettest

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/gatehouse-dev/gatehouse"
)

// Fields are what a Socket reports.
type Fields struct {
	ID        string
	Namespace string
	Rooms     []string
	Claims    gatehouse.Claims
	IP        string
}

// Socket is a gatehouse.Socket that reports its Fields; its actions do
// nothing and succeed.
type Socket struct {
	f Fields
}

var _ gatehouse.Socket = (*Socket)(nil)

// New returns a socket reporting f.
func New(f Fields) *Socket { return &Socket{f: f} }

// ID returns Fields.ID.
func (s *Socket) ID() string { return s.f.ID }

// Namespace returns Fields.Namespace.
func (s *Socket) Namespace() string { return s.f.Namespace }

// Rooms returns a copy of Fields.Rooms.
func (s *Socket) Rooms() []string { return slices.Clone(s.f.Rooms) }

// InRoom reports whether Fields.Rooms lists room.
func (s *Socket) InRoom(room string) bool { return slices.Contains(s.f.Rooms, room) }

// Claims returns Fields.Claims.
func (s *Socket) Claims() gatehouse.Claims { return s.f.Claims }

// RemoteIP returns Fields.IP.
func (s *Socket) RemoteIP() string { return s.f.IP }

// Header returns "".
func (s *Socket) Header(string) string { return "" }

// Transport returns "websocket".
func (s *Socket) Transport() string { return "websocket" }

// Emit does nothing.
func (s *Socket) Emit(string, ...any) error { return nil }

// EmitWithAck answers with no arguments.
func (s *Socket) EmitWithAck(context.Context, string, ...any) ([]json.RawMessage, error) {
	return nil, nil
}

// Join does nothing.
func (s *Socket) Join(string) error { return nil }

// Leave does nothing.
func (s *Socket) Leave(string) error { return nil }

// Broadcast does nothing.
func (s *Socket) Broadcast(context.Context, gatehouse.Broadcast) error { return nil }

// Disconnect does nothing.
func (s *Socket) Disconnect(string) {}
