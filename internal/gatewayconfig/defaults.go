package gatewayconfig

import "path/filepath"

import "time"

// Defaults of the config language. A default applies when its key is not
// written (or written with no value); a key written as 0 keeps 0 and is
// validated as such, so "shutdown_grace: 0s" means no grace.
const (
	DefaultListen                  = ":8080"
	DefaultPath                    = "/socket.io/"
	DefaultPingInterval            = Duration(25 * time.Second)
	DefaultPingTimeout             = Duration(20 * time.Second)
	DefaultMaxPayload              = 1 * Megabyte
	DefaultShutdownGrace           = Duration(10 * time.Second)
	DefaultAckTimeout              = Duration(10 * time.Second)
	DefaultSendQueue               = 256
	DefaultSlowConsumer            = "disconnect"
	DefaultMetrics                 = true
	DefaultMetricsPath             = "/metrics"
	DefaultMaxConnections          = 100000
	DefaultMaxConnectionsPerIP     = 1000
	DefaultHandshakeTimeout        = Duration(10 * time.Second)
	DefaultConnectTimeout          = Duration(45 * time.Second)
	DefaultMaxNamespacesPerSession = 16
	DefaultMaxRoomsPerSocket       = 256
	// DefaultMaxQueuedBytesPerSocket lets four events of the default
	// max_payload wait behind a slow handler.
	DefaultMaxQueuedBytesPerSocket = 4 * Megabyte
	DefaultBinaryPacketTimeout     = Duration(10 * time.Second)
	// DefaultBodyTimeout lets the default max_payload arrive at 1 Mbit/s.
	DefaultBodyTimeout = Duration(10 * time.Second)
	// DefaultMaxTCPConnectionsPerIP is twice the default
	// max_connections_per_ip: a WebSocket session keeps one connection, a
	// polling one up to two. When max_connections_per_ip is set and this is
	// not, it follows it (twice it, or off with it).
	DefaultMaxTCPConnectionsPerIP = 2 * DefaultMaxConnectionsPerIP
	DefaultMessageTimeout         = Duration(10 * time.Second)
	DefaultFloodRate              = 100.0
	DefaultFloodPer               = Duration(time.Second)
	DefaultFloodBurst             = 200
	DefaultFloodDisconnectAfter   = 100
	DefaultJWTAuthKey             = "token"
	DefaultJWTMaxSize             = 8 * Kilobyte
	DefaultJWKSRefresh            = Duration(time.Hour)
	DefaultOnExpiry               = "disconnect"
	DefaultExpiryWarning          = Duration(60 * time.Second)
	DefaultAdapterKind            = "memory"
	DefaultRedisPrefix            = "gatehouse"
)

// Defaults of server.admin.
const (
	DefaultAdminPath           = "/admin"
	DefaultAdminRecentRefusals = 200
	// MaxAdminRecentRefusals keeps the ring of refusals near 10 MiB at most.
	MaxAdminRecentRefusals = 10000
)

// DefaultPlaygroundPath is where the playground is served when
// server.playground.path is not written.
const DefaultPlaygroundPath = "/playground"

// DefaultTransports are the Engine.IO transports enabled when none are
// written, the same as socket.io-client tries.
func DefaultTransports() []string { return []string{"polling", "websocket"} }

// DefaultJWTLookup are the places of the upgrade request searched for a
// token when jwt.lookup is not written.
func DefaultJWTLookup() []string { return []string{"header:Authorization", "query:token"} }

// written reports whether the value at path appears in the file with a
// value, which is what decides whether a default applies.
func (c *Config) written(path string) bool {
	_, ok := c.positions[path]
	return ok
}

// applyDefaults fills in every value that was not written. The namespace
// auth default depends on auth.jwt, so it comes after the auth section.
func (c *Config) applyDefaults() {
	s := &c.Server
	setDefault(c, "server.listen", &s.Listen, DefaultListen)
	setDefault(c, "server.path", &s.Path, DefaultPath)
	setDefault(c, "server.transports", &s.Transports, DefaultTransports())
	setDefault(c, "server.ping_interval", &s.PingInterval, DefaultPingInterval)
	setDefault(c, "server.ping_timeout", &s.PingTimeout, DefaultPingTimeout)
	setDefault(c, "server.max_payload", &s.MaxPayload, DefaultMaxPayload)
	setDefault(c, "server.shutdown_grace", &s.ShutdownGrace, DefaultShutdownGrace)
	setDefault(c, "server.ack_timeout", &s.AckTimeout, DefaultAckTimeout)
	setDefault(c, "server.send_queue", &s.SendQueue, DefaultSendQueue)
	setDefault(c, "server.slow_consumer", &s.SlowConsumer, DefaultSlowConsumer)
	setDefault(c, "server.metrics", &s.Metrics, DefaultMetrics)
	setDefault(c, "server.metrics_path", &s.MetricsPath, DefaultMetricsPath)
	setDefault(c, "server.playground.path", &s.Playground.Path, DefaultPlaygroundPath)
	setDefault(c, "server.admin.path", &s.Admin.Path, DefaultAdminPath)
	setDefault(c, "server.admin.recent_refusals", &s.Admin.RecentRefusals, DefaultAdminRecentRefusals)

	l := &s.Limits
	setDefault(c, "server.limits.max_connections", &l.MaxConnections, DefaultMaxConnections)
	setDefault(c, "server.limits.max_connections_per_ip", &l.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(c, "server.limits.handshake_timeout", &l.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(c, "server.limits.connect_timeout", &l.ConnectTimeout, DefaultConnectTimeout)
	setDefault(c, "server.limits.max_namespaces_per_session", &l.MaxNamespacesPerSession, DefaultMaxNamespacesPerSession)
	setDefault(c, "server.limits.max_rooms_per_socket", &l.MaxRoomsPerSocket, DefaultMaxRoomsPerSocket)
	setDefault(c, "server.limits.max_queued_bytes_per_socket", &l.MaxQueuedBytesPerSocket, DefaultMaxQueuedBytesPerSocket)
	setDefault(c, "server.limits.binary_packet_timeout", &l.BinaryPacketTimeout, DefaultBinaryPacketTimeout)
	setDefault(c, "server.limits.body_timeout", &l.BodyTimeout, DefaultBodyTimeout)
	setDefault(c, "server.limits.max_tcp_connections_per_ip", &l.MaxTCPConnectionsPerIP, 2*max(l.MaxConnectionsPerIP, 0))
	setDefault(c, "server.limits.message_timeout", &l.MessageTimeout, DefaultMessageTimeout)
	setDefault(c, "server.limits.flood.rate", &l.Flood.Rate, DefaultFloodRate)
	setDefault(c, "server.limits.flood.per", &l.Flood.Per, DefaultFloodPer)
	setDefault(c, "server.limits.flood.burst", &l.Flood.Burst, DefaultFloodBurst)
	setDefault(c, "server.limits.flood.disconnect_after", &l.Flood.DisconnectAfter, DefaultFloodDisconnectAfter)

	a := &c.Auth
	setDefault(c, "auth.on_expiry", &a.OnExpiry, DefaultOnExpiry)
	setDefault(c, "auth.expiry_warning", &a.ExpiryWarning, DefaultExpiryWarning)
	if j := a.JWT; j != nil {
		setDefault(c, "auth.jwt.lookup", &j.Lookup, DefaultJWTLookup())
		setDefault(c, "auth.jwt.auth_key", &j.AuthKey, DefaultJWTAuthKey)
		setDefault(c, "auth.jwt.max_size", &j.MaxSize, DefaultJWTMaxSize)
		setDefault(c, "auth.jwt.jwks_refresh", &j.JWKSRefresh, DefaultJWKSRefresh)
		if j.RequireExp == nil {
			requireExp := true
			j.RequireExp = &requireExp
		}
	}

	c.resolvePaths()
	c.applyHooksDefaults()
	c.applyTracingDefaults()
	c.applyClusterDefaults()
	c.applyCapsDefaults()

	setDefault(c, "adapter.kind", &c.Adapter.Kind, DefaultAdapterKind)
	if r := c.Adapter.Redis; r != nil {
		setDefault(c, "adapter.redis.prefix", &r.Prefix, DefaultRedisPrefix)
	}

	for i := range c.Namespaces {
		ns := &c.Namespaces[i]
		if ns.Auth == "" && !c.written("namespaces."+ns.Name+".auth") {
			ns.Auth = "none"
			if a.JWT != nil {
				ns.Auth = "required"
			}
		}
		c.authorizerDefaults(ns)
		c.recoveryDefaults(ns)
		c.historyDefaults(ns)
		c.presenceDefaults(ns)
	}
}

func setDefault[T any](c *Config, path string, field *T, value T) {
	if !c.written(path) {
		*field = value
	}
}

// resolvePaths makes the file names of the config relative to the config
// file's directory, not to the process's working directory, so that
// `gatehouse run --config deploy/gateway.yaml` reads deploy/keys/public.pem.
func (c *Config) resolvePaths() {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.Dir(), *p)
		}
	}
	if j := c.Auth.JWT; j != nil {
		for i := range j.PublicKeys {
			resolve(&j.PublicKeys[i])
		}
	}
	if t := c.Server.TLS; t != nil {
		resolve(&t.CertFile)
		resolve(&t.KeyFile)
	}
}
