package gatewayconfig

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf returns an environment lookup over a fixed set of variables.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// yamlText drops the leading newline of a raw string literal so that the
// first line of the YAML is line 1.
func yamlText(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

const validNamespaces = `
namespaces:
  /chat:
    events:
      ping:
        handler:
          reply: {value: data}
`

func TestParseReportsEachMistakeAtItsPosition(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		env      map[string]string
		want     string // prefix of the error: "file:line:col: "
		fragment string
		count    int // number of errors expected; 0 means 1
	}{
		{
			name:     "malformed YAML",
			yaml:     "\nserver:\n  listen: \":8080\"\n   path: /x\n",
			want:     "gw.yaml:3:1: ",
			fragment: "invalid YAML",
		},
		{
			name:     "second YAML document",
			yaml:     "\nserver: {}\n---\nserver: {}\n",
			want:     "gw.yaml:2:1: ",
			fragment: "one YAML document",
		},
		{
			name:     "top level is a list",
			yaml:     "\n- server\n",
			want:     "gw.yaml:1:1: ",
			fragment: "expected a mapping",
		},
		{
			name:     "unknown top-level key with hint",
			yaml:     "\nservr:\n  listen: \":8080\"\n",
			want:     "gw.yaml:1:1: ",
			fragment: `unknown key "servr" (did you mean "server"?)`,
		},
		{
			name:     "unknown nested key with hint on its line",
			yaml:     "\nserver:\n  listen: \":8080\"\n  ping_intervall: 5s\n",
			want:     "gw.yaml:3:3: ",
			fragment: `unknown key "ping_intervall" in server (did you mean "ping_interval"?)`,
		},
		{
			name:     "unknown key far from any lists the allowed keys",
			yaml:     "\nauth:\n  frobnicate: 1\n",
			want:     "gw.yaml:2:3: ",
			fragment: "allowed keys: jwt, on_expiry, expiry_warning",
		},
		{
			name:     "duplicate key",
			yaml:     "\nserver:\n  listen: \":8080\"\n  listen: \":9090\"\n",
			want:     "gw.yaml:3:3: ",
			fragment: `key "listen" is already set at line 2`,
		},
		{
			name:     "wrong type: duration",
			yaml:     "\nserver:\n  ping_interval: abc\n",
			want:     "gw.yaml:2:18: ",
			fragment: `expected a duration such as 25s, got "abc"`,
		},
		{
			name:     "duration without unit",
			yaml:     "\nserver:\n  ping_timeout: 30\n",
			want:     "gw.yaml:2:17: ",
			fragment: "add a unit",
		},
		{
			name:     "negative duration",
			yaml:     "\nserver:\n  shutdown_grace: -5s\n",
			want:     "gw.yaml:2:19: ",
			fragment: "cannot be negative",
		},
		{
			name:     "bad size",
			yaml:     "\nserver:\n  max_payload: 12 parsecs\n",
			want:     "gw.yaml:2:16: ",
			fragment: "expected a size such as 1MB",
		},
		{
			name:     "negative size",
			yaml:     "\nserver:\n  max_payload: -1MB\n",
			want:     "gw.yaml:2:16: ",
			fragment: "cannot be negative",
		},
		{
			name:     "size out of range",
			yaml:     "\nserver:\n  max_payload: 200MB\n",
			want:     "gw.yaml:2:16: ",
			fragment: "between 1KB and 100MB",
		},
		{
			name:     "wrong type: list expected",
			yaml:     "\nserver:\n  transports: websocket\n",
			want:     "gw.yaml:2:15: ",
			fragment: `expected a list, got "websocket"`,
		},
		{
			name:     "wrong type: integer expected",
			yaml:     "\nserver:\n  send_queue: lots\n",
			want:     "gw.yaml:2:15: ",
			fragment: `expected an integer, got "lots"`,
		},
		{
			name:     "wrong type: mapping expected",
			yaml:     "\nserver: [listen]\n",
			want:     "gw.yaml:1:9: ",
			fragment: "expected a mapping, got a list",
		},
		{
			name:     "unknown transport",
			yaml:     "\nserver:\n  transports: [polling, websockets]\n",
			want:     "gw.yaml:2:25: ",
			fragment: `(did you mean "websocket"?)`,
		},
		{
			name:     "empty transports",
			yaml:     "\nserver:\n  transports: []\n",
			want:     "gw.yaml:2:15: ",
			fragment: "at least one",
		},
		{
			name:     "listen without port",
			yaml:     "\nserver:\n  listen: localhost\n",
			want:     "gw.yaml:2:11: ",
			fragment: "host:port",
		},
		{
			name:     "send queue out of range",
			yaml:     "\nserver:\n  send_queue: 0\n",
			want:     "gw.yaml:2:15: ",
			fragment: "between 1 and 65536",
		},
		{
			name:     "metrics path inside the Engine.IO path",
			yaml:     "\nserver:\n  metrics_path: /socket.io/metrics\n",
			want:     "gw.yaml:2:17: ",
			fragment: "inside server.path",
		},
		{
			name:     "metrics path on a gateway route",
			yaml:     "\nserver:\n  metrics_path: /healthz\n",
			want:     "gw.yaml:2:17: ",
			fragment: "a route of the gateway already",
		},
		{
			name:     "metrics path not absolute",
			yaml:     "\nserver:\n  metrics_path: metrics\n",
			want:     "gw.yaml:2:17: ",
			fragment: "must start with /",
		},
		{
			name:     "TLS needs both files",
			yaml:     "\nserver:\n  tls:\n    cert_file: cert.pem\n",
			want:     "gw.yaml:3:5: ",
			fragment: "needs key_file",
		},
		{
			name:     "unset variable",
			yaml:     "\nauth:\n  jwt:\n    secret: ${JWT_SECRET}\n    algorithms: [HS256]\n",
			want:     "gw.yaml:3:13: ",
			fragment: "environment variable JWT_SECRET is not set",
		},
		{
			name:     "unterminated variable",
			yaml:     "\nserver:\n  listen: \"${HOST:8080\"\n",
			want:     "gw.yaml:2:11: ",
			fragment: "unterminated",
		},
		{
			name:     "alg none",
			yaml:     "\nauth:\n  jwt:\n    secret: s\n    algorithms: [HS256, none]\n",
			want:     "gw.yaml:4:25: ",
			fragment: `algorithm "none" is refused`,
		},
		{
			name:     "unknown algorithm with hint",
			yaml:     "\nauth:\n  jwt:\n    secret: s\n    algorithms: [hs256]\n",
			want:     "gw.yaml:4:18: ",
			fragment: `(did you mean "HS256"?)`,
		},
		{
			name:     "algorithms missing",
			yaml:     "\nauth:\n  jwt:\n    secret: s\n",
			want:     "gw.yaml:3:5: ",
			fragment: "algorithms is required",
		},
		{
			name:     "HS without secret",
			yaml:     "\nauth:\n  jwt:\n    algorithms: [HS256]\n",
			want:     "gw.yaml:3:5: ",
			fragment: "secret must not be empty",
		},
		{
			name:     "RS without keys",
			yaml:     "\nauth:\n  jwt:\n    algorithms: [RS256]\n",
			want:     "gw.yaml:3:17: ",
			fragment: "public_keys or auth.jwt.jwks_url",
		},
		{
			name:     "bad lookup entry",
			yaml:     "\nauth:\n  jwt:\n    secret: s\n    algorithms: [HS256]\n    lookup: [header:Authorization, body:token]\n",
			want:     "gw.yaml:5:36: ",
			fragment: "header:NAME, query:NAME or cookie:NAME",
		},
		{
			name:     "bad on_expiry",
			yaml:     "\nauth:\n  on_expiry: disconect\n",
			want:     "gw.yaml:2:14: ",
			fragment: `(did you mean "disconnect"?)`,
		},
		{
			name:     "redis without url",
			yaml:     "\nadapter:\n  kind: redis\n",
			want:     "gw.yaml:2:9: ",
			fragment: "redis.url is required",
		},
		{
			name:     "unknown adapter kind",
			yaml:     "\nadapter:\n  kind: etcd\n",
			want:     "gw.yaml:2:9: ",
			fragment: "adapter.kind must be one of memory, redis",
		},
		{
			name:     "guard entry with two types",
			yaml:     "\nguards:\n  strict:\n    claims: {role: admin}\n    max_size: 4KB\n" + validNamespaces,
			want:     "gw.yaml:2:3: ",
			fragment: `guard "strict" has 2 types (claims, max_size)`,
		},
		{
			name:     "guard entry with no type",
			yaml:     "\nguards:\n  strict: {}\n" + validNamespaces,
			want:     "gw.yaml:2:3: ",
			fragment: `guard "strict" names no type`,
		},
		{
			name:     "duplicate guard name",
			yaml:     "\nguards:\n  a: {max_size: 1KB}\n  a: {max_size: 2KB}\n" + validNamespaces,
			want:     "gw.yaml:3:3: ",
			fragment: `key "a" is already set at line 2`,
		},
		{
			name:     "unknown guard reference with hint",
			yaml:     "\nguards:\n  per_user: {rate_limit: {rate: 1}}\nnamespaces:\n  /chat:\n    events:\n      send:\n        guards: [per_usr]\n        handler: {reply: {value: data}}\n",
			want:     "gw.yaml:7:18: ",
			fragment: `unknown guard "per_usr" (did you mean "per_user"?)`,
		},
		{
			name:     "unknown connect guard reference without guards",
			yaml:     "\nnamespaces:\n  /chat:\n    guards: [admins]\n",
			want:     "gw.yaml:3:14: ",
			fragment: "no guards are declared",
		},
		{
			name:     "both handler and handlers",
			yaml:     "\nnamespaces:\n  /chat:\n    events:\n      send:\n        handler: {reply: {value: data}}\n        handlers:\n          - emit: {event: x}\n",
			want:     "gw.yaml:4:7: ",
			fragment: "both handler and handlers",
		},
		{
			name:     "neither handler nor handlers",
			yaml:     "\nnamespaces:\n  /chat:\n    events:\n      send:\n        guards: []\n",
			want:     "gw.yaml:4:7: ",
			fragment: "has no handler",
		},
		{
			name:     "handler with two types",
			yaml:     "\nnamespaces:\n  /chat:\n    events:\n      send:\n        handlers:\n          - reply: {value: data}\n            emit: {event: x}\n",
			want:     "gw.yaml:6:13: ",
			fragment: "a handler has 2 types (reply, emit)",
		},
		{
			name:     "empty handler",
			yaml:     "\nnamespaces:\n  /chat:\n    events:\n      send:\n        handler:\n",
			want:     "gw.yaml:5:17: ",
			fragment: "got nothing",
		},
		{
			name:     "namespace without slash",
			yaml:     "\nnamespaces:\n  chat:\n    events: {}\n",
			want:     "gw.yaml:2:3: ",
			fragment: "must start with /",
		},
		{
			name:     "unknown key in namespace",
			yaml:     "\nnamespaces:\n  /chat:\n    event: {}\n",
			want:     "gw.yaml:3:5: ",
			fragment: `(did you mean "events"?)`,
		},
		{
			name:     "reserved event name",
			yaml:     "\nnamespaces:\n  /chat:\n    events:\n      connect:\n        handler: {reply: {value: data}}\n",
			want:     "gw.yaml:4:7: ",
			fragment: "reserved by Socket.IO; write its handlers under on_connect",
		},
		{
			name:     "auth required without jwt",
			yaml:     "\nnamespaces:\n  /chat:\n    auth: required\n",
			want:     "gw.yaml:3:11: ",
			fragment: "auth.jwt is not configured",
		},
		{
			name:     "unknown namespace auth",
			yaml:     "\nnamespaces:\n  /chat:\n    auth: maybe\n",
			want:     "gw.yaml:3:11: ",
			fragment: "must be one of required, optional, none",
		},
		{
			name:     "malformed YAML: unclosed flow list",
			yaml:     "\nserver:\n  transports: [polling,\nauth: {}\n",
			want:     "gw.yaml:3:1: ",
			fragment: "invalid YAML",
		},
		{
			name:     "malformed YAML: tab indentation",
			yaml:     "\nserver:\n  listen: x\n\tpath: y\n",
			want:     "gw.yaml:3:1: ",
			fragment: "tab character",
		},
		{
			name:     "malformed YAML with no line from the parser",
			yaml:     "\nserver: {}\nauth: a: b\n",
			want:     "gw.yaml:2:1: ",
			fragment: "mapping values are not allowed",
		},
		{
			name: "every error at once, in file order",
			yaml: "\nserver:\n  ping_interval: soon\nauth:\n  on_expiry: never\nadapter:\n  kind: carrier-pigeon\n",
			want: "gw.yaml:2:18: ", fragment: "expected a duration",
			count: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("gw.yaml", yamlText(tt.yaml), envOf(tt.env))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error %q...%q", tt.want, tt.fragment)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			want := max(tt.count, 1)
			if len(list) != want {
				t.Errorf("got %d errors, want %d:\n%v", len(list), want, err)
			}
			first := list[0].Error()
			if !strings.HasPrefix(first, tt.want) || !strings.Contains(first, tt.fragment) {
				t.Errorf("first error:\n  %s\nwant prefix %q and fragment %q", first, tt.want, tt.fragment)
			}
			for i := 1; i < len(list); i++ {
				if a, b := list[i-1].Pos, list[i].Pos; a.Line > b.Line || (a.Line == b.Line && a.Column > b.Column) {
					t.Errorf("errors out of order: %v before %v", a, b)
				}
			}
		})
	}
}

func TestLoadNamesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	_, err := Load(path)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Load(missing) = %v, want one error", err)
	}
	if got, want := err.Error(), path+": cannot read config: no such file or directory"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestLoadReadsTheFileAndTheEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	data := "auth:\n  jwt:\n    secret: ${GATEHOUSE_TEST_SECRET}\n    algorithms: [HS256]\n" + validNamespaces
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_TEST_SECRET", "from-env")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.JWT.Secret != "from-env" || cfg.File != path || cfg.Dir() != filepath.Dir(path) {
		t.Errorf("secret %q, file %q, dir %q", cfg.Auth.JWT.Secret, cfg.File, cfg.Dir())
	}
}

func TestRepositoryGatewayYAMLLoads(t *testing.T) {
	data, err := os.ReadFile("../../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("../../gateway.yaml", data, envOf(map[string]string{"JWT_SECRET": "dev-secret"}))
	if err != nil {
		t.Fatalf("gateway.yaml does not load:\n%v", err)
	}
	if cfg.Auth.JWT == nil || cfg.Auth.JWT.Secret != "dev-secret" || !slices.Equal(cfg.Auth.JWT.Algorithms, []string{"HS256"}) {
		t.Errorf("auth.jwt = %+v", cfg.Auth.JWT)
	}
	if !*cfg.Auth.JWT.RequireExp || cfg.Auth.JWT.AuthKey != "token" {
		t.Errorf("jwt defaults not applied: %+v", cfg.Auth.JWT)
	}
	guardTypes := map[string]string{}
	for _, g := range cfg.Guards {
		guardTypes[g.Name] = g.Type
	}
	wantGuards := map[string]string{
		"message_body": "schema", "room_body": "schema", "room_message_body": "schema",
		"room_member": "expr", "per_user": "rate_limit", "admin_only": "claims",
	}
	for name, typ := range wantGuards {
		if guardTypes[name] != typ {
			t.Errorf("guard %s has type %q, want %q", name, guardTypes[name], typ)
		}
	}
	if len(cfg.Namespaces) != 1 || cfg.Namespaces[0].Name != "/chat" || cfg.Namespaces[0].Auth != "required" {
		t.Fatalf("namespaces = %+v", cfg.Namespaces)
	}
	var events []string
	handlerTypes := map[string]string{}
	for _, ev := range cfg.Namespaces[0].Events {
		events = append(events, ev.Name)
		if len(ev.Handlers) != 1 {
			t.Errorf("event %s has %d handlers", ev.Name, len(ev.Handlers))
			continue
		}
		handlerTypes[ev.Name] = ev.Handlers[0].Type
	}
	wantEvents := []string{"sendMessage", "join", "leave", "sendToRoom", "whoami", "announce"}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events = %v, want %v (in file order)", events, wantEvents)
	}
	wantHandlers := map[string]string{
		"sendMessage": "broadcast", "join": "join", "leave": "leave",
		"sendToRoom": "broadcast", "whoami": "reply", "announce": "broadcast",
	}
	for ev, typ := range wantHandlers {
		if handlerTypes[ev] != typ {
			t.Errorf("event %s handler type %q, want %q", ev, handlerTypes[ev], typ)
		}
	}
	send := cfg.Namespaces[0].Events[0]
	if got := []string{send.Guards[0].Name, send.Guards[1].Name}; !slices.Equal(got, []string{"per_user", "message_body"}) {
		t.Errorf("sendMessage guards = %v", got)
	}
	// The rate limit options decode with the shared decoder, as the guard will.
	var perUser struct {
		Key   string   `yaml:"key"`
		Rate  float64  `yaml:"rate"`
		Per   Duration `yaml:"per"`
		Burst int      `yaml:"burst"`
	}
	for _, g := range cfg.Guards {
		if g.Name == "per_user" {
			if err := g.Options.Decode(&perUser); err != nil {
				t.Fatal(err)
			}
		}
	}
	if perUser.Key != "user" || perUser.Rate != 10 || perUser.Per.D() != time.Second || perUser.Burst != 20 {
		t.Errorf("per_user options = %+v", perUser)
	}
}

func TestDefaultsApplyOnlyToKeysNotWritten(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.Listen != ":8080" || s.Path != "/socket.io/" || !slices.Equal(s.Transports, []string{"polling", "websocket"}) ||
		s.PingInterval.D() != 25*time.Second || s.PingTimeout.D() != 20*time.Second || s.MaxPayload != Megabyte ||
		s.ShutdownGrace.D() != 10*time.Second || s.AckTimeout.D() != 10*time.Second || s.SendQueue != 256 ||
		!s.Metrics || s.MetricsPath != "/metrics" {
		t.Errorf("server defaults = %+v", s)
	}
	if cfg.Auth.OnExpiry != "disconnect" || cfg.Auth.ExpiryWarning.D() != time.Minute || cfg.Auth.JWT != nil {
		t.Errorf("auth defaults = %+v", cfg.Auth)
	}
	if cfg.Adapter.Kind != "memory" || cfg.Namespaces[0].Auth != "none" {
		t.Errorf("adapter %+v, namespace auth %q", cfg.Adapter, cfg.Namespaces[0].Auth)
	}

	written := `
server:
  shutdown_grace: 0s
  ping_interval: 5s
  metrics: false
auth:
  expiry_warning: 0
  jwt:
    secret: s
    algorithms: [HS256]
    lookup: []
    require_exp: false
adapter:
  kind: redis
  redis: {url: "redis://localhost:6379/0"}
` + validNamespaces
	cfg, err = Parse("gw.yaml", yamlText(written), nil)
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.Auth.JWT
	if cfg.Server.ShutdownGrace != 0 || cfg.Server.PingInterval.D() != 5*time.Second || cfg.Auth.ExpiryWarning != 0 ||
		cfg.Server.Metrics {
		t.Errorf("written zeros replaced by defaults: %+v %+v", cfg.Server, cfg.Auth)
	}
	if len(j.Lookup) != 0 || *j.RequireExp || j.MaxSize != 8*Kilobyte || j.JWKSRefresh.D() != time.Hour {
		t.Errorf("jwt = %+v", j)
	}
	if cfg.Adapter.Redis.Prefix != "gatehouse" || cfg.Namespaces[0].Auth != "required" {
		t.Errorf("redis %+v, namespace auth %q", cfg.Adapter.Redis, cfg.Namespaces[0].Auth)
	}
	if got := cfg.PosOf("server.ping_interval"); got.Line != 3 || got.Column != 18 {
		t.Errorf("PosOf(server.ping_interval) = %v", got)
	}
	if got := cfg.PosOf("server.listen"); got.Line != 2 || got.Column != 3 {
		t.Errorf("PosOf(unwritten server.listen) = %v, want the server section", got)
	}
}

func TestNamespacesKeepHandlersAndOrder(t *testing.T) {
	src := `
guards:
  admin: {claims: {role: admin}}
  small: {max_size: 4KB}
namespaces:
  /admin:
    guards: [admin]
    on_connect:
      - emit: {event: welcome}
    on_disconnect:
      - publish: {}
    events:
      zeta:
        guards: [small, admin]
        handlers:
          - webhook: {url: "https://example.com/hook"}
          - reply: {value: '{"ok": true}'}
      alpha:
        handler:
          leave:
  /:
    auth: none
`
	cfg, err := Parse("gw.yaml", yamlText(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := cfg.Namespaces[0]
	if admin.Name != "/admin" || cfg.Namespaces[1].Name != "/" {
		t.Fatalf("namespaces out of order: %+v", cfg.Namespaces)
	}
	if len(admin.Guards) != 1 || admin.Guards[0].Name != "admin" || admin.Guards[0].Pos.Line != 6 {
		t.Errorf("connect guards = %+v", admin.Guards)
	}
	if len(admin.OnConnect) != 1 || admin.OnConnect[0].Type != "emit" || len(admin.OnDisconnect) != 1 || admin.OnDisconnect[0].Type != "publish" {
		t.Errorf("on_connect %+v on_disconnect %+v", admin.OnConnect, admin.OnDisconnect)
	}
	if len(admin.Events) != 2 || admin.Events[0].Name != "zeta" || admin.Events[1].Name != "alpha" {
		t.Fatalf("events = %+v", admin.Events)
	}
	zeta := admin.Events[0]
	if len(zeta.Handlers) != 2 || zeta.Handlers[0].Type != "webhook" || zeta.Handlers[1].Type != "reply" {
		t.Errorf("zeta handlers = %+v", zeta.Handlers)
	}
	if p := zeta.Handlers[0].Options.Pos(); p.Line != 15 || p.Column != 22 {
		t.Errorf("webhook options at %v, want line 15 col 22", p)
	}
	leave := admin.Events[1].Handlers[0]
	if leave.Type != "leave" || !leave.Options.IsZero() || leave.Options.Pos().Line != 19 {
		t.Errorf("leave handler without options = %+v", leave)
	}
}

func TestInterpolationThroughParse(t *testing.T) {
	src := `
server:
  listen: "${HOST:-}:${PORT:-8080}"
  path: /$${literal}/
  send_queue: ${QUEUE}
  allowed_origins: ['${ORIGIN}']
api:
  keys: ["${API_KEY:-fallback}", "price in $USD"]
` + validNamespaces
	cfg, err := Parse("gw.yaml", yamlText(src), envOf(map[string]string{"QUEUE": "512", "ORIGIN": "https://a.example", "API_KEY": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":8080" || cfg.Server.Path != "/${literal}/" || cfg.Server.SendQueue != 512 {
		t.Errorf("server = %+v", cfg.Server)
	}
	if cfg.Server.AllowedOrigins[0] != "https://a.example" {
		t.Errorf("allowed_origins = %v", cfg.Server.AllowedOrigins)
	}
	if !slices.Equal(cfg.API.Keys, []string{"fallback", "price in $USD"}) {
		t.Errorf("api.keys = %v", cfg.API.Keys)
	}
}

func TestExpand(t *testing.T) {
	env := envOf(map[string]string{"A": "alpha", "EMPTY": "", "N": "42"})
	tests := []struct {
		in, want string
		errPart  string
	}{
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-y", want: "x-alpha-y"},
		{in: "${A}${N}", want: "alpha42"},
		{in: "${MISSING:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:-}", want: ""},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "cost $5 and $", want: "cost $5 and $"},
		{in: "${MISSING}", errPart: "environment variable MISSING is not set"},
		{in: "${1BAD}", errPart: "invalid variable reference"},
		{in: "${}", errPart: "invalid variable reference"},
		{in: "${A", errPart: "unterminated"},
	}
	for _, tt := range tests {
		got, errs := expand(tt.in, env)
		if tt.errPart == "" {
			if len(errs) != 0 || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, errs, tt.want)
			}
			continue
		}
		if len(errs) != 1 || !strings.Contains(errs[0], tt.errPart) {
			t.Errorf("expand(%q) errors = %v, want one containing %q", tt.in, errs, tt.errPart)
		}
	}
}

func TestErrorPrintsFileAloneWithoutLine(t *testing.T) {
	if got := Errorf(Pos{File: "gateway.yaml"}, "cannot read config").Error(); got != "gateway.yaml: cannot read config" {
		t.Errorf("got %q", got)
	}
	if got := Errorf(Pos{File: "gateway.yaml", Line: 3, Column: 7}, "bad").Error(); got != "gateway.yaml:3:7: bad" {
		t.Errorf("got %q", got)
	}
}

func TestEmptyFileIsAnEmptyConfig(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n"} {
		cfg, err := Parse("gw.yaml", []byte(src), nil)
		if err != nil || cfg.Server.Listen != DefaultListen || len(cfg.Namespaces) != 0 {
			t.Errorf("Parse(%q) = %+v, %v", src, cfg, err)
		}
	}
}

func TestAliasesAndMergeKeys(t *testing.T) {
	src := `
guards:
  base: &limits {rate_limit: &rl {key: user, rate: 5}}
  copy: *limits
namespaces:
  /a:
    events:
      e: &event
        guards: [base, copy]
        handler: {reply: {value: data}}
      f:
        <<: *event
        guards: [base]
`
	cfg, err := Parse("gw.yaml", yamlText(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Guards[1].Type != "rate_limit" {
		t.Errorf("aliased guard = %+v", cfg.Guards[1])
	}
	f := cfg.Namespaces[0].Events[1]
	if len(f.Guards) != 1 || len(f.Handlers) != 1 || f.Handlers[0].Type != "reply" {
		t.Errorf("merged event = %+v", f)
	}
}

func TestBillionLaughsIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	src := "guards:\n  big:\n    schema:\n" + indent(b.String(), "      ")
	cfg, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err) // options stay raw until a guard decodes them
	}
	var v any
	err = cfg.Guards[0].Options.Decode(&v)
	if err == nil || !strings.Contains(err.Error(), "too many alias expansions") {
		t.Errorf("decode error = %v, want too many alias expansions", err)
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
