package config

// Config is a loaded gateway.yaml.
type Config struct {
	// File is the path the config was read from.
	File string `yaml:"-"`

	Server     Server      `yaml:"server"`
	Auth       Auth        `yaml:"auth"`
	Adapter    Adapter     `yaml:"adapter"`
	API        API         `yaml:"api"`
	Guards     []GuardDecl `yaml:"-"` // from the "guards" mapping, in file order
	Namespaces []Namespace `yaml:"-"` // from the "namespaces" mapping, in file order

	// positions maps field paths such as "server.listen" or
	// "namespaces./chat.auth" to where their values are written.
	positions map[string]Pos
}

// Server is the listener and the Engine.IO transport settings.
type Server struct {
	Listen         string   `yaml:"listen"`          // default ":8080"
	Path           string   `yaml:"path"`            // default "/socket.io/"
	AllowedOrigins []string `yaml:"allowed_origins"` // default none: only same-origin / no-Origin clients; "*" only when written
	Transports     []string `yaml:"transports"`      // default [polling, websocket]
	PingInterval   Duration `yaml:"ping_interval"`   // default 25s
	PingTimeout    Duration `yaml:"ping_timeout"`    // default 20s
	MaxPayload     Size     `yaml:"max_payload"`     // default 1MB
	ShutdownGrace  Duration `yaml:"shutdown_grace"`  // default 10s
	AckTimeout     Duration `yaml:"ack_timeout"`     // default 10s, server-to-client acks
	SendQueue      int      `yaml:"send_queue"`      // default 256 packets per socket
	SlowConsumer   string   `yaml:"slow_consumer"`   // default "disconnect"; or "drop_oldest"
	Metrics        bool     `yaml:"metrics"`         // default true: serve Prometheus metrics
	MetricsPath    string   `yaml:"metrics_path"`    // default "/metrics"
	TLS            *TLS     `yaml:"tls"`
	Limits         Limits   `yaml:"limits"`
}

// Limits bound what one client, and all of them together, may hold and send.
// A count of 0 means no limit.
type Limits struct {
	MaxConnections          int      `yaml:"max_connections"`            // default 100000 Engine.IO sessions
	MaxConnectionsPerIP     int      `yaml:"max_connections_per_ip"`     // default 1000 sessions per client address
	HandshakeTimeout        Duration `yaml:"handshake_timeout"`          // default 10s to send a request's headers
	ConnectTimeout          Duration `yaml:"connect_timeout"`            // default 45s from the handshake to a namespace CONNECT
	MaxNamespacesPerSession int      `yaml:"max_namespaces_per_session"` // default 16
	MaxRoomsPerSocket       int      `yaml:"max_rooms_per_socket"`       // default 256
	// MaxQueuedBytesPerSocket bounds the payload bytes of the events one
	// socket has waiting (behind a slow handler, or before its on_connect
	// work is done); default 4MB.
	MaxQueuedBytesPerSocket Size `yaml:"max_queued_bytes_per_socket"`
	// BinaryPacketTimeout is how long a binary packet may take from its
	// text part to its last attachment; default 10s.
	BinaryPacketTimeout Duration `yaml:"binary_packet_timeout"`
	// BodyTimeout is how long a request may take to send its body once its
	// headers are in; default 10s.
	BodyTimeout Duration `yaml:"body_timeout"`
	// MaxTCPConnectionsPerIP bounds the TCP connections of one client
	// address, counted from accept, before any request; default 2000.
	MaxTCPConnectionsPerIP int `yaml:"max_tcp_connections_per_ip"`
	// MessageTimeout is how long a WebSocket message may take from its
	// first fragment to its last; default 10s.
	MessageTimeout Duration `yaml:"message_timeout"`
	Flood          Flood    `yaml:"flood"`
}

// Flood is the per-socket token bucket that every event of a socket draws
// from, whatever its name.
type Flood struct {
	Rate  float64  `yaml:"rate"`  // default 100 events per Per; 0 turns the limit off
	Per   Duration `yaml:"per"`   // default 1s
	Burst int      `yaml:"burst"` // default 200
	// DisconnectAfter disconnects a socket after that many refused events
	// in a row; default 100, 0 never disconnects.
	DisconnectAfter int `yaml:"disconnect_after"`
}

// TLS names a certificate and key in PEM files.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth is how tokens are verified.
type Auth struct {
	JWT *JWT `yaml:"jwt"`
	// OnExpiry is "disconnect" (default) or "ignore".
	OnExpiry string `yaml:"on_expiry"`
	// ExpiryWarning is how long before exp the auth:expiring event is sent (default 60s).
	ExpiryWarning Duration `yaml:"expiry_warning"`
}

// JWT configures token verification, at the upgrade and at namespace CONNECT.
type JWT struct {
	// Secret is an HMAC secret for HS256/384/512, usually ${JWT_SECRET}.
	Secret string `yaml:"secret"`
	// PublicKeys are PEM files with RSA, ECDSA or Ed25519 public keys.
	PublicKeys []string `yaml:"public_keys"`
	// JWKSURL is a JSON Web Key Set URL, refreshed every JWKSRefresh.
	JWKSURL     string   `yaml:"jwks_url"`
	JWKSRefresh Duration `yaml:"jwks_refresh"` // default 1h
	// Algorithms pins the accepted "alg" values; required.
	Algorithms []string `yaml:"algorithms"`
	// Lookup lists where the upgrade request may carry a token:
	// "header:Authorization", "query:token", "cookie:NAME".
	// Default [header:Authorization, query:token].
	Lookup []string `yaml:"lookup"`
	// AuthKey is the key of the token in the CONNECT auth payload (default "token").
	AuthKey    string   `yaml:"auth_key"`
	Issuer     string   `yaml:"issuer"`
	Audience   string   `yaml:"audience"`
	Leeway     Duration `yaml:"leeway"`      // default 0
	RequireExp *bool    `yaml:"require_exp"` // default true
	MaxSize    Size     `yaml:"max_size"`    // default 8KB; longer tokens are refused
}

// Adapter selects how broadcasts reach other gateway processes.
type Adapter struct {
	Kind  string       `yaml:"kind"` // "memory" (default) or "redis"
	Redis *RedisConfig `yaml:"redis"`
}

// RedisConfig is the Redis adapter's connection.
type RedisConfig struct {
	URL    string `yaml:"url"`
	Prefix string `yaml:"prefix"` // default "gatehouse"
}

// API is the server API for backends (contract C4).
type API struct {
	Keys []string `yaml:"keys"`
}

// GuardDecl is one named entry of "guards": exactly one guard type with its options.
type GuardDecl struct {
	Name    string
	Type    string
	Options Options
	Pos     Pos
}

// Ref is a reference by name (to a guard), with the position where it is written.
type Ref struct {
	Name string
	Pos  Pos
}

// HandlerDecl is one handler of an event or of on_connect/on_disconnect:
// exactly one handler type with its options.
type HandlerDecl struct {
	Type    string
	Options Options
	Pos     Pos
}

// Namespace is one entry of "namespaces", keyed by its name ("/chat").
type Namespace struct {
	Name string
	Pos  Pos
	// Auth is "required", "optional" or "none"; default "required" when
	// auth.jwt is configured, otherwise "none".
	Auth string
	// Guards run at CONNECT, in order.
	Guards       []Ref
	OnConnect    []HandlerDecl
	OnDisconnect []HandlerDecl
	Events       []Event
}

// Event is one entry of a namespace's "events", keyed by the event name.
type Event struct {
	Name     string
	Pos      Pos
	Guards   []Ref
	Handlers []HandlerDecl // from "handler" (one) or "handlers" (a list)
}
