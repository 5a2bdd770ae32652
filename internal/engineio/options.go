package engineio

import (
	"log/slog"
	"os"
	"slices"
	"time"
)

// Transport names, as they appear in the "transport" query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Defaults applied by NewServer to zero-valued Options fields. They are the
// reference server's defaults, so a client tuned for it behaves the same.
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxPayload     = 1_000_000
	DefaultSendQueue      = 1024
	DefaultUpgradeTimeout = 10 * time.Second
	DefaultMessageTimeout = 10 * time.Second
)

// SlowConsumerPolicy is what a session does when a message would overflow
// its send queue: a client that reads slower than it is sent to never
// slows delivery to the others, nor grows the server's memory without bound.
type SlowConsumerPolicy int

const (
	// SlowConsumerDisconnect closes the session ("slow consumer"); the
	// message is refused with ErrQueueFull.
	SlowConsumerDisconnect SlowConsumerPolicy = iota
	// SlowConsumerDropOldest drops the oldest waiting messages to make
	// room, so the client misses messages but stays connected.
	SlowConsumerDropOldest
)

// Read paths of WebSockets (Options.ReadPath).
const (
	// ReadPathPoller: an epoll instance reports which WebSockets have
	// bytes to read, and a bounded pool of goroutines reads, decodes and
	// dispatches them; an idle WebSocket holds no goroutine and no read
	// buffer. Linux only; TLS WebSockets, and connections whose socket
	// the server does not see, stay on the goroutine path.
	ReadPathPoller = "poller"
	// ReadPathGoroutine: each WebSocket is read by a goroutine of its own.
	ReadPathGoroutine = "goroutine"
)

// readPathEnv names the environment variable that chooses the read path
// when Options.ReadPath is empty, to compare the two.
const readPathEnv = "GATEHOUSE_READ_PATH"

// Options configure a Server. Zero values take the defaults above.
type Options struct {
	// PingInterval is how often the server sends a ping.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for the pong before closing
	// the session with "ping timeout".
	PingTimeout time.Duration
	// MaxPayload is the largest accepted HTTP POST body or WebSocket
	// message, in bytes; it is also announced to the client in the
	// handshake so that it splits its polling payloads accordingly. A
	// WebSocket message's fragments count together as they arrive: the
	// frame that goes past it closes the connection (1009).
	MaxPayload int64
	// MessageTimeout bounds a WebSocket message from its first frame to
	// its last; past it the connection is closed (1008).
	MessageTimeout time.Duration
	// AllowedOrigins lists the browser origins (scheme://host[:port])
	// allowed to connect, with credentials (cookies); "*" allows any
	// other, without credentials. Requests without an Origin header
	// (non-browser clients) are always allowed. An empty list refuses every
	// request that carries an Origin.
	AllowedOrigins []string
	// Transports enabled, a subset of "polling" and "websocket"; empty means
	// both.
	Transports []string
	// SendQueue is the number of messages a session may have waiting to be
	// written; SlowConsumer says what happens to a session that would
	// exceed it.
	SendQueue int
	// SlowConsumer is the policy for a session whose queue is full:
	// disconnect it (the default) or drop its oldest waiting messages.
	SlowConsumer SlowConsumerPolicy
	// UpgradeTimeout bounds the polling to WebSocket upgrade, from the
	// WebSocket connection to the client's upgrade packet.
	UpgradeTimeout time.Duration
	// MaxSessions refuses new sessions (HTTP 503, code "unavailable") while
	// that many are open; 0 means no limit. SetSessionLimits changes it
	// while the server runs.
	MaxSessions int
	// MaxSessionsPerIP is the same limit for the sessions of one client
	// address (Handshake.RemoteIP); 0 means no limit.
	MaxSessionsPerIP int
	// Refused, when set, is told of each handshake refused because of a
	// session limit or because the server no longer accepts sessions, with
	// the reason ("max_connections", "max_connections_per_ip",
	// "shutting_down") and the client address, and of each WebSocket
	// message refused (RefusedMaxPayload, RefusedMessageTimeout). It must
	// be quick.
	Refused func(reason, remoteIP string)
	// RefusedOrigin, when set, is told of each request refused because its
	// Origin is not allowed, with the origin, the path and the client
	// address. It must be quick.
	RefusedOrigin func(origin, path, remoteIP string)
	// NodeTag, when set, starts every session id, so that the node that
	// made a session is known from its id (see Foreign).
	NodeTag string
	// Foreign, when set with NodeTag, is offered each request whose sid
	// this server does not hold but another node's tag starts (see
	// ForeignFunc); a request it does not handle is refused as an unknown
	// session.
	Foreign ForeignFunc
	// AdoptWebSocket, when set with NodeTag, is offered a WebSocket
	// upgrade of another node's session before Foreign: it may take the
	// session over on this node, so that its traffic stays here.
	AdoptWebSocket ForeignFunc
	// Logger receives debug records about sessions; nil uses slog.Default.
	Logger *slog.Logger
	// Now is the clock used for I/O deadlines; nil uses time.Now.
	Now func() time.Time
	// ReadPath is how WebSockets are read: ReadPathPoller (where the
	// platform has it) or ReadPathGoroutine. Empty takes
	// GATEHOUSE_READ_PATH from the environment, else ReadPathPoller.
	ReadPath string
}

// withDefaults returns a copy of o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if o.MessageTimeout <= 0 {
		o.MessageTimeout = DefaultMessageTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadPath == "" {
		o.ReadPath = os.Getenv(readPathEnv)
	}
	if o.ReadPath != ReadPathGoroutine {
		o.ReadPath = ReadPathPoller
	}
	o.AllowedOrigins = slices.Clone(o.AllowedOrigins)
	o.Transports = slices.Clone(o.Transports)
	return o
}

func (o *Options) allowsTransport(name string) bool {
	return slices.Contains(o.Transports, name)
}

// allowsAnyOrigin reports whether the allow-list holds the wildcard.
func (o *Options) allowsAnyOrigin() bool {
	return slices.Contains(o.AllowedOrigins, "*")
}

// originListed reports whether origin is in the allow-list by name, which
// allows it credentials; the wildcard does not.
func (o *Options) originListed(origin string) bool {
	return origin != "*" && slices.Contains(o.AllowedOrigins, origin)
}
