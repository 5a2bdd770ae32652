package socketio

import (
	"context"
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse"
)

// Hooks are the runtime's decisions, called by the Server.
type Hooks interface {
	// HasNamespace reports whether name ("/chat") is declared; CONNECT to
	// another gets the standard "Invalid namespace" CONNECT_ERROR.
	HasNamespace(name string) bool
	// Connect decides a namespace CONNECT. auth is the CONNECT payload (nil
	// when absent). A nil error accepts the socket (the hook may have set
	// its claims with SetClaims); an error refuses it with CONNECT_ERROR
	// {message, data: {code, ...}} built from gatehouse.AsError(err).
	Connect(ctx context.Context, s *Socket, auth json.RawMessage) error
	// Connected runs after the CONNECT ack is sent (on_connect handlers).
	Connected(ctx context.Context, s *Socket)
	// Event handles one EVENT or BINARY_EVENT. ack is nil when the client
	// asked for no acknowledgement; otherwise it must be called once.
	// Events of one socket are handed over in order; the hook may process
	// them concurrently.
	Event(ctx context.Context, s *Socket, event string, args gatehouse.Args, ack AckFunc)
	// Disconnected is called once when the socket leaves the namespace,
	// with a standard reason ("client namespace disconnect", "server
	// namespace disconnect", "transport close", "ping timeout", ...).
	Disconnected(s *Socket, reason string)
}

// Refuser is implemented by Hooks that answer the events the Server refuses
// itself (too many waiting for a socket being set up), so that the answer
// follows their error contract: an error ack, or an event when the client
// asked for no ack. Without it such an event gets an error ack
// {"error": {code, message}} when it asked for one, and is logged.
type Refuser interface {
	// Refuse answers event with err, a *gatehouse.Error; ack is nil when
	// the client asked for no acknowledgement.
	Refuse(s *Socket, event string, ack AckFunc, err error)
}

// AckFunc sends the acknowledgement of an event; arguments are encoded as
// for gatehouse.Socket.Emit.
type AckFunc func(args ...any)
