package engineio

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Message is the payload of one Engine.IO "message" packet (type 4): text
// or binary. Data is never modified after it is handed to Send, so one
// Message may be queued on many sessions (a broadcast encoded once).
type Message struct {
	Data   []byte
	Binary bool
}

// Handshake is what the session's first HTTP request carried. It lives as
// long as the session, so headers and query are kept as one string each
// rather than as maps: an idle connection holds two allocations for them
// instead of one per header.
type Handshake struct {
	Header   Header
	Query    Query
	RemoteIP string
	// Local is what the HTTP middleware in front of the Engine.IO routes
	// left under the fiber Locals key HandshakeLocal (nil when nothing),
	// kept as long as the session. Engine.IO gives it no meaning: the layers
	// above know what they put there.
	Local any
}

// HandshakeLocal is the fiber.Ctx Locals key whose value a session's
// Handshake keeps as Local.
const HandshakeLocal = "gatehouse.handshake"

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

// Flusher is implemented by the Conns of a Server. Flush returns once the
// messages queued before the call have been written to the WebSocket that
// carries the session, or the session is ending; on polling it returns at
// once, since queued messages wait for the client's next request. It lets
// a reply leave in a write of its own, ahead of what the caller queues
// next, as the reference server sends it: a client that handles the
// messages of one read together (ws 8.17 and later) sees them apart. The
// write runs on the caller's goroutine, bounded by the write timeout.
type Flusher interface {
	Flush()
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

// Header is a read-only copy of request headers: "Name: value" lines, each
// ended by "\r\n", in the order they were sent.
type Header string

// HeaderOf copies h into a Header, names sorted (for callers that have an
// http.Header, such as tests).
func HeaderOf(h http.Header) Header {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		for _, v := range h[name] {
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	return Header(b.String())
}

// appendHeaderLine appends one "Name: value\r\n" line to b.
func appendHeaderLine(b, name, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// Get returns the first value of the header name, compared without regard
// to case; "" when it is absent.
func (h Header) Get(name string) string {
	rest := string(h)
	for rest != "" {
		line, after, _ := strings.Cut(rest, "\r\n")
		rest = after
		key, value, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(key, name) {
			return value
		}
	}
	return ""
}

// Values returns every value of the header name, in the order sent.
func (h Header) Values(name string) []string {
	var values []string
	rest := string(h)
	for rest != "" {
		line, after, _ := strings.Cut(rest, "\r\n")
		rest = after
		key, value, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(key, name) {
			values = append(values, value)
		}
	}
	return values
}

// Query is the raw query string of a request, without the "?".
type Query string

// Get returns the first value of key, "" when it is absent or the query
// cannot be parsed up to it.
func (q Query) Get(key string) string {
	values, _ := url.ParseQuery(string(q))
	return values.Get(key)
}

// Values parses the query; pairs that cannot be parsed are left out.
func (q Query) Values() url.Values {
	values, _ := url.ParseQuery(string(q))
	return values
}
