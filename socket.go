package gatehouse

import (
	"context"
	"encoding/json"
)

// Claims are the verified claims of a socket's JWT. They are nil for a socket
// that connected without a token.
type Claims map[string]any

// Subject returns the "sub" claim, or "" when absent.
func (c Claims) Subject() string {
	s, _ := c["sub"].(string)
	return s
}

// Args are an event's arguments as they arrived: each argument as raw JSON,
// where binary values appear as Socket.IO placeholders
// ({"_placeholder":true,"num":N}) that refer to Attachments[N]. Passing Args
// back to Emit or Broadcast sends them on intact.
type Args struct {
	Raw         []json.RawMessage
	Attachments [][]byte
}

// First returns the first argument (the payload guards see), or nil.
func (a Args) First() json.RawMessage {
	if len(a.Raw) == 0 {
		return nil
	}
	return a.Raw[0]
}

// Socket is one client connected to one namespace. Its methods are safe for
// concurrent use.
type Socket interface {
	// ID is the Socket.IO socket id, unique across the cluster.
	ID() string
	// Namespace is the namespace name, such as "/chat".
	Namespace() string
	// Rooms lists the rooms the socket is in, its own id room excluded.
	Rooms() []string
	// InRoom reports whether the socket is in room.
	InRoom(room string) bool
	// Claims are the verified JWT claims; nil without a token.
	Claims() Claims
	// RemoteIP is the client address of the handshake request.
	RemoteIP() string
	// Header returns a header of the handshake request.
	Header(name string) string
	// Transport is "polling" or "websocket".
	Transport() string

	// Emit sends an event to this socket only. Each argument is a
	// json.RawMessage (sent as is), a []byte (sent as a binary attachment),
	// an Args value (its arguments spliced in, attachments intact) or any
	// value encoding/json can marshal.
	Emit(event string, args ...any) error
	// EmitWithAck sends an event to this socket and waits for the client's
	// acknowledgement until ctx ends or the server's ack timeout passes,
	// returning the acknowledgement's arguments as raw JSON.
	EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error)
	// Join adds the socket to room.
	Join(room string) error
	// Leave removes the socket from room.
	Leave(room string) error
	// Broadcast sends an event to the socket's namespace (or the rooms of
	// msg), across every node of the cluster.
	Broadcast(ctx context.Context, msg Broadcast) error
	// Disconnect closes the socket with a reason sent to the client.
	Disconnect(reason string)
}

// Broadcast describes one event sent to many sockets of a namespace.
type Broadcast struct {
	// Rooms restricts delivery to members of any of these rooms; empty means
	// the whole namespace.
	Rooms []string
	// ExceptSender leaves out the socket that broadcasts.
	ExceptSender bool
	// Event is the event name; Args its arguments, as for Socket.Emit.
	Event string
	Args  []any
}
