package engineio

import (
	"net/http"
	"net/url"
)

// Message is the payload of one Engine.IO "message" packet (type 4): text
// or binary. Data is never modified after it is handed to Send, so one
// Message may be queued on many sessions (a broadcast encoded once).
type Message struct {
	Data   []byte
	Binary bool
}

// Handshake is what the session's first HTTP request carried.
type Handshake struct {
	Header   http.Header
	Query    url.Values
	RemoteIP string
	// Claims are the JWT claims verified at the upgrade request, nil when
	// the request carried no token. They come from the fiber Locals key
	// ClaimsLocal, set by the auth middleware in front of the Engine.IO
	// routes.
	Claims map[string]any
}

// ClaimsLocal is the fiber.Ctx Locals key under which the auth middleware
// leaves verified claims (map[string]any) for the handshake.
const ClaimsLocal = "gatehouse.claims"

// Conn is one Engine.IO session as the layer above sees it. Its methods
// are safe for concurrent use.
type Conn interface {
	// ID is the Engine.IO session id (sid).
	ID() string
	// Handshake is the first request of the session.
	Handshake() *Handshake
	// Transport is "polling" or "websocket", the current one.
	Transport() string
	// Send queues messages to be written in order; messages given in one
	// call stay together. It never blocks. When the bounded queue is full,
	// the policy decides (Options.SlowConsumer): the session is closed
	// (slow consumer) and Send returns ErrQueueFull, or the oldest queued
	// messages are dropped to make room. On a closed session it returns
	// ErrClosed.
	Send(msgs ...Message) error
	// Close ends the session: a close packet when the transport allows it,
	// then OnClose with reason.
	Close(reason string)
}

// Handler receives the sessions of a Server.
type Handler interface {
	// Open is called once per session, after the handshake and before any
	// message, and returns the listener for that session's messages.
	Open(conn Conn) Listener
}

// Listener receives the messages of one session. Calls are sequential for
// one session (never concurrent), in the order the client sent them.
type Listener interface {
	// OnMessage is one message from the client. Data is only valid during
	// the call; copy what is kept.
	OnMessage(msg Message)
	// OnClose is called once, when the session ends, with one of the
	// standard reasons ("transport close", "transport error", "ping timeout",
	// "forced close", "server shutting down", ...).
	OnClose(reason string)
}
