package gatewayconfig

// Config is a loaded gateway.yaml.
//
// The tags of these types are the one description of the file's keys that
// `gatehouse schema` and the tables of docs/config.md (`make docs`) are
// generated from: yaml names the key, doc says in one sentence what it does,
// default is its default as written in YAML (a test checks it against what
// the loader applies), enum lists the words it accepts, and doctype and
// docdefault override the Type and Default columns of the docs' tables
// where words say more than the Go type.
type Config struct {
	// File is the path the config was read from.
	File string `yaml:"-"`

	Server     Server      `yaml:"server" doc:"The listener and the Engine.IO transport settings."`
	Auth       Auth        `yaml:"auth" doc:"How tokens are verified."`
	Adapter    Adapter     `yaml:"adapter" doc:"How broadcasts reach other gateway processes."`
	API        API         `yaml:"api" doc:"The server API for backends."`
	Cluster    Cluster     `yaml:"cluster" doc:"Any gateway serving any session, for load balancers without sticky sessions; off by default."`
	Guards     []GuardDecl `yaml:"-"` // from the "guards" mapping, in file order
	Namespaces []Namespace `yaml:"-"` // from the "namespaces" mapping, in file order

	// positions maps field paths such as "server.listen" or
	// "namespaces./chat.auth" to where their values are written.
	positions map[string]Pos
}

// Server is the listener and the Engine.IO transport settings.
type Server struct {
	Listen         string   `yaml:"listen" doc:"The host:port the gateway listens on." default:"\":8080\"" doctype:"string, host:port"`
	Path           string   `yaml:"path" doc:"The URL path of the Engine.IO endpoint." default:"\"/socket.io/\""`
	AllowedOrigins []string `yaml:"allowed_origins" doc:"Origins allowed to connect; none means same-origin and no-Origin clients only, \"*\" any origin."`
	Transports     []string `yaml:"transports" doc:"The Engine.IO transports clients may use." default:"[polling, websocket]" enum:"polling,websocket"`
	PingInterval   Duration `yaml:"ping_interval" doc:"How often the server pings a client." default:"25s" doctype:"duration > 0"`
	PingTimeout    Duration `yaml:"ping_timeout" doc:"How long the server waits for a pong before closing the session." default:"20s" doctype:"duration > 0"`
	MaxPayload     Size     `yaml:"max_payload" doc:"The largest HTTP body or WebSocket message a client may send." default:"1MB" doctype:"size, 1KB–100MB"`
	ShutdownGrace  Duration `yaml:"shutdown_grace" doc:"How long a shutdown waits for connections to close." default:"10s"`
	AckTimeout     Duration `yaml:"ack_timeout" doc:"How long the server waits for a client to acknowledge an event it emitted with await_ack." default:"10s" doctype:"duration > 0"`
	SendQueue      int      `yaml:"send_queue" doc:"How many packets may wait to be sent to one socket." default:"256" doctype:"integer, 1–65536"`
	SlowConsumer   string   `yaml:"slow_consumer" doc:"What happens when a socket's send queue is full: disconnect it or drop its oldest packet." default:"disconnect" enum:"disconnect,drop_oldest"`
	Metrics        bool     `yaml:"metrics" doc:"Whether Prometheus metrics are served." default:"true"`
	MetricsPath    string   `yaml:"metrics_path" doc:"The URL path of the Prometheus metrics." default:"\"/metrics\""`
	TLS            *TLS     `yaml:"tls" doc:"A certificate and key to serve HTTPS and WSS."`
	Limits         Limits   `yaml:"limits" doc:"Bounds on what one client, and all of them together, may hold and send."`
	Hooks          *Hooks   `yaml:"hooks" doc:"Lifecycle hooks: connects, disconnects and rooms filling and emptying, posted to a backend in batches."`
	Admin          Admin    `yaml:"admin" doc:"The operator's view: sockets, rooms, last refusals and event statistics of every node, behind api.keys; off by default."`
	Tracing        Tracing  `yaml:"tracing" doc:"OpenTelemetry spans of the handshake, each CONNECT and each event, exported over OTLP/HTTP; off by default."`

	Playground Playground `yaml:"playground" doc:"A page, served by the gateway, for trying the config's events from a browser; off by default."`
}

// Playground is the page the gateway serves, when enabled, for trying the
// config's namespaces and events from a browser.
type Playground struct {
	Enabled bool   `yaml:"enabled" doc:"Whether the gateway serves the playground." default:"false"`
	Path    string `yaml:"path" doc:"The URL path of the playground." default:"\"/playground\""`
	// MintTokens lets the page mint tokens signed with auth.jwt.secret:
	// anyone who reaches the page can then be anyone, so it is for
	// development only.
	MintTokens bool `yaml:"mint_tokens" doc:"Whether the page may mint tokens with chosen claims, signed with auth.jwt.secret (an HMAC algorithm); for development only." default:"false"`
}

// Admin is the operator's view the gateway serves, when enabled, behind the
// server API's keys.
type Admin struct {
	Enabled bool   `yaml:"enabled" doc:"Whether the gateway serves the operator's view (it needs api.keys)." default:"false"`
	Path    string `yaml:"path" doc:"The URL path of the page; its JSON endpoints are under path/api." default:"\"/admin\""`
	// RecentRefusals bounds the refusals kept for the view, each cut to
	// about 1 KiB (admin.EntryBytes), so the default keeps about 230 KiB.
	RecentRefusals int `yaml:"recent_refusals" doc:"How many of the last refusals each node keeps for the view, each cut to about 1 KiB." default:"200" doctype:"integer, 1–10000"`
}

// Limits bound what one client, and all of them together, may hold and send.
// A count of 0 means no limit.
type Limits struct {
	MaxConnections          int      `yaml:"max_connections" doc:"The most Engine.IO sessions the process holds; 0 means no limit." default:"100000" doctype:"integer ≥ 0"`
	MaxConnectionsPerIP     int      `yaml:"max_connections_per_ip" doc:"The most sessions of one client address; 0 means no limit." default:"1000" doctype:"integer ≥ 0"`
	HandshakeTimeout        Duration `yaml:"handshake_timeout" doc:"How long a request may take to send its headers." default:"10s" doctype:"duration > 0"`
	ConnectTimeout          Duration `yaml:"connect_timeout" doc:"How long a session may take from its handshake to a namespace CONNECT." default:"45s" doctype:"duration > 0"`
	MaxNamespacesPerSession int      `yaml:"max_namespaces_per_session" doc:"The most namespaces one session may join; 0 means no limit." default:"16" doctype:"integer ≥ 0"`
	MaxRoomsPerSocket       int      `yaml:"max_rooms_per_socket" doc:"The most rooms one socket may be in; 0 means no limit." default:"256" doctype:"integer ≥ 0"`
	// MaxConnectionsPerUser bounds the sockets one user (by UserClaim)
	// holds in one namespace, on every node of the cluster together.
	MaxConnectionsPerUser int `yaml:"max_connections_per_user" doc:"The most sockets one user may hold in one namespace, across the cluster; 0 means no limit." default:"100" doctype:"integer ≥ 0"`
	// UserClaim names the claim that identifies a user for
	// MaxConnectionsPerUser.
	UserClaim string `yaml:"user_claim" doc:"The claim that identifies a user for max_connections_per_user." default:"sub"`
	// MaxQueuedBytesPerSocket bounds the payload bytes of the events one
	// socket has waiting (behind a slow handler, or before its on_connect
	// work is done); default 4MB.
	MaxQueuedBytesPerSocket Size `yaml:"max_queued_bytes_per_socket" doc:"The payload bytes of the events one socket may have waiting." default:"4MB" doctype:"size ≥ 0"`
	// BinaryPacketTimeout is how long a binary packet may take from its
	// text part to its last attachment; default 10s.
	BinaryPacketTimeout Duration `yaml:"binary_packet_timeout" doc:"How long a binary packet may take from its text part to its last attachment." default:"10s" doctype:"duration > 0"`
	// BodyTimeout is how long a request may take to send its body once its
	// headers are in; default 10s.
	BodyTimeout Duration `yaml:"body_timeout" doc:"How long a request may take to send its body once its headers are in." default:"10s" doctype:"duration > 0"`
	// MaxTCPConnectionsPerIP bounds the TCP connections of one client
	// address, counted from accept, before any request; default 2000.
	MaxTCPConnectionsPerIP int `yaml:"max_tcp_connections_per_ip" doc:"The most TCP connections of one client address, counted from accept; when not written it is twice max_connections_per_ip." default:"2000" doctype:"integer ≥ 0" docdefault:"twice max_connections_per_ip (2000; off when that is 0)"`
	// MessageTimeout is how long a WebSocket message may take from its
	// first fragment to its last; default 10s.
	MessageTimeout Duration `yaml:"message_timeout" doc:"How long a WebSocket message may take from its first fragment to its last." default:"10s" doctype:"duration > 0"`
	Flood          Flood    `yaml:"flood" doc:"The per-socket token bucket every event of a socket draws from."`
}

// Flood is the per-socket token bucket that every event of a socket draws
// from, whatever its name.
type Flood struct {
	Rate  float64  `yaml:"rate" doc:"Events allowed per period; 0 turns the limit off." default:"100" doctype:"number ≥ 0"`
	Per   Duration `yaml:"per" doc:"The period of the rate." default:"1s" doctype:"duration > 0"`
	Burst int      `yaml:"burst" doc:"The most events allowed at once." default:"200" doctype:"integer ≥ 1"`
	// DisconnectAfter disconnects a socket after that many refused events
	// in a row; default 100, 0 never disconnects.
	DisconnectAfter int `yaml:"disconnect_after" doc:"Refused events in a row after which the socket is disconnected; 0 never disconnects." default:"100" doctype:"integer ≥ 0"`
}

// Hooks are the lifecycle hooks: events posted to a backend in batches, from
// a bounded buffer, with retries. A restart applies changes to them.
type Hooks struct {
	URL     string            `yaml:"url" doc:"The backend URL that receives each batch as a POST of a JSON array." doctype:"http(s) URL" docdefault:"**required**"`
	Events  []string          `yaml:"events" doc:"The kinds of event sent." default:"[connect, disconnect, room_occupied, room_vacated]" enum:"connect,disconnect,room_occupied,room_vacated"`
	Headers map[string]string `yaml:"headers" doc:"Headers sent with every POST, such as Authorization."`
	Timeout Duration          `yaml:"timeout" doc:"How long one POST may take before it counts as failed." default:"5s" doctype:"duration > 0"`
	Batch   HooksBatch        `yaml:"batch" doc:"How events are grouped into POSTs."`
	Retry   HooksRetry        `yaml:"retry" doc:"How failed POSTs are retried."`
	// Buffer and BufferBytes bound the events waiting on one node.
	Buffer       int      `yaml:"buffer" doc:"The most events waiting to be posted on one node; more are dropped and counted." default:"10000" doctype:"integer ≥ 1"`
	BufferBytes  Size     `yaml:"buffer_bytes" doc:"The most bytes of events waiting to be posted on one node; more are dropped and counted." default:"8MB" doctype:"size > 0"`
	FlushTimeout Duration `yaml:"flush_timeout" doc:"How long a shutdown goes on posting what is buffered." default:"5s" doctype:"duration ≥ 0"`
	NodeTimeout  Duration `yaml:"node_timeout" doc:"With the Redis adapter, how long the rooms of a node that stopped renewing its lease stay occupied." default:"15s" doctype:"duration ≥ 3s"`
}

// HooksBatch groups lifecycle events into POSTs.
type HooksBatch struct {
	Size     int      `yaml:"size" doc:"The most events in one POST." default:"100" doctype:"integer, 1–10000"`
	Interval Duration `yaml:"interval" doc:"How long the first event of a batch waits for others." default:"1s" doctype:"duration > 0"`
}

// HooksRetry says how failed POSTs of lifecycle events are retried.
type HooksRetry struct {
	MinBackoff  Duration `yaml:"min_backoff" doc:"The wait before the first retry; it doubles at each failure." default:"200ms" doctype:"duration > 0"`
	MaxBackoff  Duration `yaml:"max_backoff" doc:"The longest wait between retries." default:"10s" doctype:"duration > 0"`
	MaxAttempts int      `yaml:"max_attempts" doc:"Posts of one batch before it is given up; 0 retries until it is delivered." default:"0" doctype:"integer ≥ 0"`
}

// TLS names a certificate and key in PEM files.
type TLS struct {
	CertFile string `yaml:"cert_file" doc:"The PEM file of the certificate chain." docdefault:"—"`
	KeyFile  string `yaml:"key_file" doc:"The PEM file of the private key." docdefault:"—"`
}

// Auth is how tokens are verified.
type Auth struct {
	JWT *JWT `yaml:"jwt" doc:"JWT verification, at the upgrade and at namespace CONNECT."`
	// OnExpiry is "disconnect" (default) or "ignore".
	OnExpiry string `yaml:"on_expiry" doc:"What happens to a socket when its token expires." default:"disconnect" enum:"disconnect,ignore"`
	// ExpiryWarning is how long before exp the auth:expiring event is sent (default 60s).
	ExpiryWarning Duration `yaml:"expiry_warning" doc:"How long before exp the auth:expiring event is sent." default:"60s"`
}

// JWT configures token verification, at the upgrade and at namespace CONNECT.
type JWT struct {
	// Secret is an HMAC secret for HS256/384/512, usually ${JWT_SECRET}.
	Secret string `yaml:"secret" doc:"An HMAC secret for HS256/384/512, usually ${JWT_SECRET}." docdefault:"—"`
	// PublicKeys are PEM files with RSA, ECDSA or Ed25519 public keys.
	PublicKeys []string `yaml:"public_keys" doc:"PEM files with RSA, ECDSA or Ed25519 public keys." doctype:"list of file names" docdefault:"—"`
	// JWKSURL is a JSON Web Key Set URL, refreshed every JWKSRefresh.
	JWKSURL     string   `yaml:"jwks_url" doc:"A JSON Web Key Set URL, refreshed every jwks_refresh." doctype:"http(s) URL" docdefault:"—"`
	JWKSRefresh Duration `yaml:"jwks_refresh" doc:"How often the JSON Web Key Set is fetched again." default:"1h" doctype:"duration > 0"`
	// JWKSUnknownKID is what a token whose kid is not in the key set does:
	// "refetch" (fetch the set again, at most once per
	// JWKSRefetchInterval) or "refuse".
	JWKSUnknownKID string `yaml:"jwks_unknown_kid" doc:"What a token whose kid is not in the key set does: fetch the set again (at most once per jwks_refetch_interval) or be refused." default:"refetch" enum:"refetch,refuse"`
	// JWKSRefetchInterval is the shortest time between two fetches that
	// unknown kids trigger.
	JWKSRefetchInterval Duration `yaml:"jwks_refetch_interval" doc:"The shortest time between two fetches of jwks_url that tokens with an unknown kid trigger." default:"30s" doctype:"duration ≥ 1s"`
	// PreviousSecrets are HMAC secrets accepted beside Secret until their
	// window ends, so that Secret can be replaced without refusing the
	// tokens signed with the one before.
	PreviousSecrets []PreviousSecret `yaml:"previous_secrets" doc:"HMAC secrets accepted beside secret until their window ends, for replacing the secret without downtime." doctype:"list of {secret, until}"`
	// Algorithms pins the accepted "alg" values; required.
	Algorithms []string `yaml:"algorithms" doc:"The accepted \"alg\" values; required." doctype:"list" docdefault:"**required**"`
	// Lookup lists where the upgrade request may carry a token:
	// "header:Authorization", "query:token", "cookie:NAME".
	// Default [header:Authorization, query:token].
	Lookup []string `yaml:"lookup" doc:"Where the upgrade request may carry a token: header:NAME, query:NAME or cookie:NAME." default:"[header:Authorization, query:token]" doctype:"list"`
	// AuthKey is the key of the token in the CONNECT auth payload (default "token").
	AuthKey    string   `yaml:"auth_key" doc:"The key of the token in the CONNECT auth payload." default:"token"`
	Issuer     string   `yaml:"issuer" doc:"The required \"iss\" claim, if any."`
	Audience   string   `yaml:"audience" doc:"The required \"aud\" claim, if any."`
	Leeway     Duration `yaml:"leeway" doc:"Clock skew allowed when checking exp and nbf." default:"0"`
	RequireExp *bool    `yaml:"require_exp" doc:"Whether tokens without exp are refused." default:"true"`
	MaxSize    Size     `yaml:"max_size" doc:"The longest token accepted." default:"8KB" doctype:"size > 0"`
}

// PreviousSecret is an HMAC secret that verifies tokens until a moment:
// the secret being replaced, during the rotation.
type PreviousSecret struct {
	Secret string `yaml:"secret" doc:"The previous HMAC secret, usually ${JWT_PREVIOUS_SECRET}." docdefault:"**required**"`
	// Until is an RFC 3339 time, such as 2026-12-03T12:00:00Z.
	Until string `yaml:"until" doc:"When the previous secret stops verifying tokens." doctype:"RFC 3339 time" docdefault:"**required**"`
}

// Adapter selects how broadcasts reach other gateway processes.
type Adapter struct {
	Kind  string       `yaml:"kind" doc:"The adapter: memory for one process, redis for a cluster." default:"memory" enum:"memory,redis"`
	Redis *RedisConfig `yaml:"redis" doc:"The Redis adapter's connection."`
}

// RedisConfig is the Redis adapter's connection.
type RedisConfig struct {
	URL    string `yaml:"url" doc:"The Redis URL, such as redis://localhost:6379/0." doctype:"URL" docdefault:"—"`
	Prefix string `yaml:"prefix" doc:"The prefix of the Redis channels and keys." default:"gatehouse"`
}

// API is the server API for backends (contract C4).
type API struct {
	Keys []string `yaml:"keys" doc:"The keys a backend may present to the server API."`
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
	Guards []Ref
	// Authorizer, when set, is asked at CONNECT after the token check.
	Authorizer   *Authorizer
	OnConnect    []HandlerDecl
	OnDisconnect []HandlerDecl
	Events       []Event
	// MaxConnections bounds the sockets of the namespace on every node of
	// the cluster together; 0 means no limit.
	MaxConnections int
	// Recovery, when set, keeps the sessions of sockets whose connection
	// was lost, for socket.io-client's connectionStateRecovery.
	Recovery *Recovery
	// History, when set, keeps the last messages of the rooms it names.
	History *History
	// Presence, when set, tells who is in the rooms it names.
	Presence *Presence
}

// Event is one entry of a namespace's "events", keyed by the event name.
type Event struct {
	Name     string
	Pos      Pos
	Guards   []Ref
	Handlers []HandlerDecl // from "handler" (one) or "handlers" (a list)
}

// Authorizer is a namespace's HTTP authorizer: a backend asked at CONNECT,
// with what the client presented, whether the socket may connect and with
// what claims. After the namespace's token check when its auth is required
// or optional (the verified claims are sent along), alone when it is none.
type Authorizer struct {
	URL            string            `yaml:"url" doc:"The backend endpoint the gateway POSTs what the client presented to." doctype:"http(s) URL" docdefault:"**required**"`
	At             string            `yaml:"at" doc:"When the backend is asked: at each CONNECT to the namespace, or once at the Engine.IO handshake, which it then refuses or lets through for the whole connection." default:"connect" enum:"connect,upgrade"`
	Timeout        Duration          `yaml:"timeout" doc:"Bounds one call, answer included." default:"2s" doctype:"duration > 0"`
	Headers        []string          `yaml:"headers" doc:"Headers of the handshake request sent on to the backend, by name." doctype:"list of header names"`
	Cookies        []string          `yaml:"cookies" doc:"Cookies of the handshake request sent on to the backend, by name." doctype:"list of cookie names"`
	RequestHeaders map[string]string `yaml:"request_headers" doc:"Headers added to every call, such as an Authorization header with a ${SECRET} from the environment." doctype:"mapping"`
	OnError        string            `yaml:"on_error" doc:"What a call without a usable answer decides: deny refuses the socket, allow lets it in with the claims it already had." default:"deny" enum:"deny,allow"`
	Cache          AuthorizerCache   `yaml:"cache" doc:"The answers remembered, keyed by a hash of what the client presented."`
	MaxRequest     Size              `yaml:"max_request" doc:"The largest request one socket's presentation makes; a larger one is refused with payload_too_large." default:"16KB" doctype:"size > 0"`
	MaxAnswer      Size              `yaml:"max_answer" doc:"The largest answer read back; a larger one is a failed call." default:"16KB" doctype:"size > 0"`
	MaxInFlight    int               `yaml:"max_in_flight" doc:"The most calls waiting on the backend at once; a socket beyond them is refused with unavailable." default:"1000" doctype:"integer ≥ 1"`
}

// AuthorizerCache bounds the answers an authorizer remembers.
type AuthorizerCache struct {
	Size     int      `yaml:"size" doc:"The most answers kept; 0 keeps none." default:"10000" doctype:"integer ≥ 0"`
	TTL      Duration `yaml:"ttl" doc:"The longest an answer is kept; never past the lifetime the backend gave it; 0 keeps none." default:"30s" doctype:"duration ≥ 0"`
	MaxBytes Size     `yaml:"max_bytes" doc:"The bytes of the answers kept, their claims and messages with 256 bytes per answer." default:"16MB" doctype:"size ≥ 0"`
}
