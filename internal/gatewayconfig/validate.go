package gatewayconfig

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// JWTAlgorithms returns the JWT "alg" values the gateway verifies.
func JWTAlgorithms() []string { return slices.Clone(jwtAlgorithms) }

var jwtAlgorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Limits enforced by validation.
const (
	MinMaxPayload = 1 * Kilobyte
	MaxMaxPayload = 100 * Megabyte
	MaxSendQueue  = 65536
)

// validator collects validation errors positioned at the offending field.
type validator struct {
	cfg  *Config
	errs ErrorList
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, Errorf(v.cfg.PosOf(path), format, args...))
}

func (v *validator) failAt(pos Pos, format string, args ...any) {
	v.errs = append(v.errs, Errorf(pos, format, args...))
}

// oneOf checks an enumerated value, with a hint when it looks like a typo.
func (v *validator) oneOf(path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.fail(path, "%s must be one of %s, got %q%s", path, strings.Join(allowed, ", "), value, Suggest(value, allowed))
	}
}

// validate checks what the types cannot say: enumerations, ranges, the
// combinations that only make sense together, and guard references.
func (c *Config) validate() ErrorList {
	v := &validator{cfg: c}
	v.server(&c.Server)
	v.auth(&c.Auth)
	v.adapter(&c.Adapter)
	v.api(&c.API)
	v.cluster(&c.Cluster)
	v.namespaces()
	v.capsAndRotation()
	return v.errs
}

// metricsPath checks that the metrics endpoint shadows no other route of
// the gateway.
func (v *validator) metricsPath(s *Server) {
	p := s.MetricsPath
	switch {
	case !strings.HasPrefix(p, "/") || p == "/":
		v.fail("server.metrics_path", "server.metrics_path must start with / and name a path such as /metrics, got %q", p)
	case strings.HasPrefix(strings.TrimSuffix(p, "/")+"/", strings.TrimSuffix(s.Path, "/")+"/"):
		v.fail("server.metrics_path", "server.metrics_path %q is inside server.path %q, where Engine.IO is served", p, s.Path)
	case slices.Contains(reservedRoutes, strings.TrimSuffix(p, "/")) || strings.HasPrefix(p, "/api/"):
		v.fail("server.metrics_path", "server.metrics_path %q is a route of the gateway already", p)
	}
}

// admin checks server.admin: its bound, the keys it is behind, and that its
// path shadows no other route of the gateway and none shadows it.
func (v *validator) admin(s *Server) {
	a := s.Admin
	if a.RecentRefusals < 1 || a.RecentRefusals > MaxAdminRecentRefusals {
		v.fail("server.admin.recent_refusals", "server.admin.recent_refusals must be between 1 and %d, got %d", MaxAdminRecentRefusals, a.RecentRefusals)
	}
	if !a.Enabled {
		return
	}
	if len(v.cfg.API.Keys) == 0 {
		v.fail("server.admin.enabled", "server.admin is behind the server API's keys: write api.keys (one key or more, from the environment) to serve it")
	}
	p := strings.TrimSuffix(a.Path, "/")
	inside := func(a, b string) bool {
		return strings.HasPrefix(strings.TrimSuffix(a, "/")+"/", strings.TrimSuffix(b, "/")+"/")
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		v.fail("server.admin.path", "server.admin.path must start with / and name a path such as /admin, got %q", a.Path)
	case inside(p, s.Path) || inside(s.Path, p):
		v.fail("server.admin.path", "server.admin.path %q overlaps server.path %q, where Engine.IO is served", a.Path, s.Path)
	case s.Metrics && (inside(p, s.MetricsPath) || inside(s.MetricsPath, p)):
		v.fail("server.admin.path", "server.admin.path %q overlaps server.metrics_path %q", a.Path, s.MetricsPath)
	case s.Playground.Enabled && (inside(p, s.Playground.Path) || inside(s.Playground.Path, p)):
		v.fail("server.admin.path", "server.admin.path %q overlaps server.playground.path %q", a.Path, s.Playground.Path)
	case slices.ContainsFunc(reservedRoutes, func(r string) bool { return inside(p, r) || inside(r, p) }):
		v.fail("server.admin.path", "server.admin.path %q overlaps a route of the gateway (%s)", a.Path, strings.Join(reservedRoutes, ", "))
	}
}

// playgroundPath checks that the playground shadows no other route of the
// gateway and none shadows it.
func (v *validator) playgroundPath(s *Server) {
	p := strings.TrimSuffix(s.Playground.Path, "/")
	inside := func(a, b string) bool {
		return strings.HasPrefix(strings.TrimSuffix(a, "/")+"/", strings.TrimSuffix(b, "/")+"/")
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		v.fail("server.playground.path", "server.playground.path must start with / and name a path such as /playground, got %q", s.Playground.Path)
	case inside(p, s.Path) || inside(s.Path, p):
		v.fail("server.playground.path", "server.playground.path %q overlaps server.path %q, where Engine.IO is served", s.Playground.Path, s.Path)
	case s.Metrics && (inside(p, s.MetricsPath) || inside(s.MetricsPath, p)):
		v.fail("server.playground.path", "server.playground.path %q overlaps server.metrics_path %q", s.Playground.Path, s.MetricsPath)
	case slices.ContainsFunc(reservedRoutes, func(r string) bool { return inside(p, r) || inside(r, p) }):
		v.fail("server.playground.path", "server.playground.path %q overlaps a route of the gateway (%s)", s.Playground.Path, strings.Join(reservedRoutes, ", "))
	}
}

// reservedRoutes are served by the gateway whatever the config says.
var reservedRoutes = []string{"/healthz", "/readyz", "/api"}

func (v *validator) server(s *Server) {
	if err := checkListen(s.Listen); err != nil {
		v.fail("server.listen", "server.listen must be host:port such as \":8080\" or \"127.0.0.1:8080\": %v", err)
	}
	if !strings.HasPrefix(s.Path, "/") {
		v.fail("server.path", "server.path must start with /, got %q", s.Path)
	}
	for i, origin := range s.AllowedOrigins {
		if origin == "*" {
			continue
		}
		if problem := originProblem(origin); problem != "" {
			v.fail(fmt.Sprintf("server.allowed_origins[%d]", i), "allowed origin %q %s: write \"*\" or scheme://host[:port] exactly as a browser sends it in its Origin header, such as https://example.com or http://localhost:3000", origin, problem)
		}
	}
	if len(s.Transports) == 0 {
		v.fail("server.transports", "server.transports needs at least one of polling, websocket")
	}
	for i, t := range s.Transports {
		path := fmt.Sprintf("server.transports[%d]", i)
		if !slices.Contains(s.Transports[:i], t) {
			v.oneOf(path, t, "polling", "websocket")
		} else {
			v.fail(path, "transport %q is listed twice", t)
		}
	}
	if s.PingInterval <= 0 {
		v.fail("server.ping_interval", "server.ping_interval must be greater than 0")
	}
	if s.PingTimeout <= 0 {
		v.fail("server.ping_timeout", "server.ping_timeout must be greater than 0")
	}
	if s.MaxPayload < MinMaxPayload || s.MaxPayload > MaxMaxPayload {
		v.fail("server.max_payload", "server.max_payload must be between %s and %s, got %s", MinMaxPayload, MaxMaxPayload, s.MaxPayload)
	}
	if s.AckTimeout <= 0 {
		v.fail("server.ack_timeout", "server.ack_timeout must be greater than 0")
	}
	if s.SendQueue < 1 || s.SendQueue > MaxSendQueue {
		v.fail("server.send_queue", "server.send_queue must be between 1 and %d, got %d", MaxSendQueue, s.SendQueue)
	}
	v.oneOf("server.slow_consumer", s.SlowConsumer, "disconnect", "drop_oldest")
	v.tracing(&s.Tracing)
	if s.Metrics {
		v.metricsPath(s)
	}
	if s.Playground.Enabled {
		v.playgroundPath(s)
	}
	v.admin(s)
	v.limits(&s.Limits)
	v.hooks(s.Hooks)
	if t := s.TLS; t != nil {
		if t.CertFile == "" {
			v.fail("server.tls.cert_file", "server.tls needs cert_file (a PEM certificate) as well as key_file")
		}
		if t.KeyFile == "" {
			v.fail("server.tls.key_file", "server.tls needs key_file (a PEM private key) as well as cert_file")
		}
	}
}

// limits checks server.limits: counts may be 0 (no limit), timeouts may not.
func (v *validator) limits(l *Limits) {
	counts := []struct {
		key   string
		value int
	}{
		{"max_connections", l.MaxConnections},
		{"max_connections_per_ip", l.MaxConnectionsPerIP},
		{"max_tcp_connections_per_ip", l.MaxTCPConnectionsPerIP},
		{"max_namespaces_per_session", l.MaxNamespacesPerSession},
		{"max_rooms_per_socket", l.MaxRoomsPerSocket},
		{"flood.disconnect_after", l.Flood.DisconnectAfter},
	}
	for _, c := range counts {
		if c.value < 0 {
			v.fail("server.limits."+c.key, "server.limits.%s must be 0 (no limit) or more, got %d", c.key, c.value)
		}
	}
	if l.HandshakeTimeout <= 0 {
		v.fail("server.limits.handshake_timeout", "server.limits.handshake_timeout must be greater than 0: it is what cuts off clients that send their request slowly")
	}
	if l.ConnectTimeout <= 0 {
		v.fail("server.limits.connect_timeout", "server.limits.connect_timeout must be greater than 0")
	}
	if l.BinaryPacketTimeout <= 0 {
		v.fail("server.limits.binary_packet_timeout", "server.limits.binary_packet_timeout must be greater than 0: it is what drops a binary packet whose attachments never come")
	}
	if l.BodyTimeout <= 0 {
		v.fail("server.limits.body_timeout", "server.limits.body_timeout must be greater than 0: it is what cuts off clients that send a request body slowly")
	}
	if l.MessageTimeout <= 0 {
		v.fail("server.limits.message_timeout", "server.limits.message_timeout must be greater than 0: it is what closes a WebSocket whose message never ends")
	}
	f := l.Flood
	if f.Rate < 0 {
		v.fail("server.limits.flood.rate", "server.limits.flood.rate must be 0 (no limit) or more, got %g", f.Rate)
	}
	if f.Rate > 0 {
		if f.Per <= 0 {
			v.fail("server.limits.flood.per", "server.limits.flood.per must be greater than 0")
		}
		if f.Burst < 1 {
			v.fail("server.limits.flood.burst", "server.limits.flood.burst must be at least 1 when flood.rate is set, got %d", f.Burst)
		}
	}
}

func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number between 0 and 65535", port)
	}
	return nil
}

// originProblem says why origin is not a browser origin (RFC 6454:
// scheme://host[:port], lower case, nothing after), or "" when it is one.
// An allow-list entry is compared byte for byte with the Origin header, so
// "https://example.com/" would never match anything.
func originProblem(origin string) string {
	u, err := url.Parse(origin)
	switch {
	case err != nil:
		return "is not a URL"
	case u.Scheme == "" || u.Opaque != "" || !strings.Contains(origin, "://"):
		return "has no scheme"
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	case u.User != nil:
		return "has user information"
	case u.Path != "" || u.RawPath != "":
		return "has a path (a trailing slash included)"
	case u.RawQuery != "" || u.ForceQuery:
		return "has a query"
	case u.Fragment != "" || strings.Contains(origin, "#"):
		return "has a fragment"
	case strings.HasSuffix(u.Host, ":"):
		return "has an empty port"
	case origin != strings.ToLower(origin):
		return "has upper-case letters (browsers send origins in lower case)"
	}
	return ""
}

func (v *validator) auth(a *Auth) {
	v.oneOf("auth.on_expiry", a.OnExpiry, "disconnect", "ignore")
	if a.JWT == nil {
		return
	}
	j := a.JWT
	if len(j.Algorithms) == 0 {
		v.fail("auth.jwt.algorithms", "auth.jwt.algorithms is required: list the accepted algorithms, such as [HS256]")
	}
	var needsSecret, needsKeys bool
	for i, alg := range j.Algorithms {
		path := fmt.Sprintf("auth.jwt.algorithms[%d]", i)
		switch {
		case strings.EqualFold(alg, "none"):
			v.fail(path, "algorithm \"none\" is refused: it accepts unsigned tokens, which anyone can forge")
		case !slices.Contains(jwtAlgorithms, alg):
			v.fail(path, "unknown JWT algorithm %q%s; accepted: %s", alg, Suggest(alg, jwtAlgorithms), strings.Join(jwtAlgorithms, ", "))
		case strings.HasPrefix(alg, "HS"):
			needsSecret = true
		default:
			needsKeys = true
		}
	}
	if needsSecret && j.Secret == "" {
		v.fail("auth.jwt.secret", "auth.jwt.secret must not be empty for HS algorithms; set it from the environment, as in secret: ${JWT_SECRET}")
	}
	if needsKeys && len(j.PublicKeys) == 0 && j.JWKSURL == "" {
		v.fail("auth.jwt.algorithms", "RS, PS, ES and EdDSA algorithms need auth.jwt.public_keys or auth.jwt.jwks_url")
	}
	for i, file := range j.PublicKeys {
		if file == "" {
			v.fail(fmt.Sprintf("auth.jwt.public_keys[%d]", i), "a public key file name must not be empty")
		}
	}
	if j.JWKSURL != "" {
		if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.fail("auth.jwt.jwks_url", "auth.jwt.jwks_url must be an http(s) URL, got %q", j.JWKSURL)
		}
		if j.JWKSRefresh <= 0 {
			v.fail("auth.jwt.jwks_refresh", "auth.jwt.jwks_refresh must be greater than 0")
		}
	}
	for i, entry := range j.Lookup {
		source, name, ok := strings.Cut(entry, ":")
		if !ok || name == "" || !slices.Contains([]string{"header", "query", "cookie"}, source) {
			v.fail(fmt.Sprintf("auth.jwt.lookup[%d]", i), "lookup entry %q must be header:NAME, query:NAME or cookie:NAME", entry)
		}
	}
	if j.AuthKey == "" {
		v.fail("auth.jwt.auth_key", "auth.jwt.auth_key must not be empty")
	}
	if j.MaxSize <= 0 {
		v.fail("auth.jwt.max_size", "auth.jwt.max_size must be greater than 0")
	}
}

func (v *validator) adapter(a *Adapter) {
	v.oneOf("adapter.kind", a.Kind, "memory", "redis")
	switch {
	case a.Kind == "redis" && a.Redis == nil:
		v.fail("adapter.kind", "adapter.redis.url is required when adapter.kind is redis: add redis: {url: redis://localhost:6379/0}")
	case a.Kind == "redis" && a.Redis.URL == "":
		v.fail("adapter.redis.url", "adapter.redis.url is required when adapter.kind is redis, such as redis://localhost:6379/0")
	case a.Kind == "redis":
		if u, err := url.Parse(a.Redis.URL); err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) {
			v.fail("adapter.redis.url", "adapter.redis.url must be a redis://, rediss:// or unix:// URL, got %q", a.Redis.URL)
		}
	case a.Redis != nil && !v.cfg.written("adapter.kind"):
		v.fail("adapter.redis", "adapter.redis is set but adapter.kind defaults to memory; add kind: redis to use it")
	}
}

func (v *validator) api(a *API) {
	for i, key := range a.Keys {
		if key == "" {
			v.fail(fmt.Sprintf("api.keys[%d]", i), "an API key must not be empty (is its environment variable empty?)")
		}
	}
}

func (v *validator) namespaces() {
	c := v.cfg
	guardNames := make([]string, len(c.Guards))
	for i, g := range c.Guards {
		guardNames[i] = g.Name
	}
	for _, ns := range c.Namespaces {
		authPath := "namespaces." + ns.Name + ".auth"
		v.oneOf(authPath, ns.Auth, "required", "optional", "none")
		if (ns.Auth == "required" || ns.Auth == "optional") && c.Auth.JWT == nil {
			v.fail(authPath, "namespace %s has auth: %s but auth.jwt is not configured", ns.Name, ns.Auth)
		}
		v.refs(ns.Guards, guardNames)
		v.authorizer(ns)
		v.recovery(ns)
		v.history(ns)
		v.presence(ns)
		for _, ev := range ns.Events {
			v.refs(ev.Guards, guardNames)
		}
	}
}

// refs checks that every reference names a declared guard.
func (v *validator) refs(refs []Ref, guardNames []string) {
	for _, r := range refs {
		if slices.Contains(guardNames, r.Name) {
			continue
		}
		switch hint := Suggest(r.Name, guardNames); {
		case hint != "":
			v.failAt(r.Pos, "unknown guard %q%s", r.Name, hint)
		case len(guardNames) == 0:
			v.failAt(r.Pos, "unknown guard %q: no guards are declared under guards:", r.Name)
		default:
			v.failAt(r.Pos, "unknown guard %q; declared guards: %s", r.Name, strings.Join(guardNames, ", "))
		}
	}
}
