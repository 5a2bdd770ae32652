package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// runMain runs the command line in-process and returns its exit code and
// outputs.
func runMain(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeConfig writes a config file in a fresh directory and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const minimalConfig = `server:
  listen: "127.0.0.1:0"
auth:
  jwt:
    secret: ${CLI_TEST_SECRET:-test-secret}
    algorithms: [HS256]
namespaces:
  /chat:
    events:
      whoami:
        handler:
          reply: {value: user}
`

func TestValidateReportsEveryBadInputWithPositionAndExitCode1(t *testing.T) {
	tests := []struct {
		name       string
		config     string // empty: the file does not exist
		wantPrefix []string
	}{
		{
			name:       "missing file",
			wantPrefix: []string{"cannot read config"},
		},
		{
			name:       "malformed yaml",
			config:     "server:\n  listen: \":8080\"\n namespaces: [\n",
			wantPrefix: []string{":3:"},
		},
		{
			name:       "unknown key with a hint on line 7",
			config:     "server:\n  listen: \":8080\"\n\n\n\n\n  pign_interval: 5s\n",
			wantPrefix: []string{":7:", `did you mean "ping_interval"`},
		},
		{
			name:       "wrong type",
			config:     "server:\n  send_queue: lots\n",
			wantPrefix: []string{":2:"},
		},
		{
			name:       "negative duration",
			config:     "server:\n  ping_timeout: -5s\n",
			wantPrefix: []string{":2:", "negative"},
		},
		{
			name:       "unset variable",
			config:     "auth:\n  jwt:\n    secret: ${GATEHOUSE_CLI_TEST_UNSET}\n    algorithms: [HS256]\n",
			wantPrefix: []string{":3:", "GATEHOUSE_CLI_TEST_UNSET"},
		},
		{
			name: "unknown handler type",
			config: "namespaces:\n  /chat:\n    events:\n      ping:\n        handler:\n" +
				"          replly: {value: 1}\n",
			wantPrefix: []string{":6:", `did you mean "reply"`},
		},
		{
			name: "unknown guard reference and bad expression, both reported",
			config: "guards:\n  bad:\n    expr: {condition: 'data.('}\nnamespaces:\n  /chat:\n    events:\n" +
				"      ping:\n        guards: [missing]\n        handler:\n          reply: {value: 1}\n",
			wantPrefix: []string{":3:", ":8:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.yaml")
			if tt.config != "" {
				path = writeConfig(t, tt.config)
			}
			code, stdout, stderr := runMain(t, context.Background(), "validate", "--config", path)
			if code != 1 {
				t.Fatalf("exit code = %d, want 1; stderr:\n%s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stderr holds a stack trace:\n%s", stderr)
			}
			for _, want := range tt.wantPrefix {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if !strings.HasPrefix(line, path) {
					t.Errorf("line does not start with the file name %s: %q", path, line)
				}
			}
		})
	}
}

func TestValidatePrintsOKForTheDefaultConfig(t *testing.T) {
	t.Setenv("JWT_SECRET", "dev-secret")
	code, stdout, stderr := runMain(t, context.Background(), "validate", "--config", "../gateway.yaml")
	if code != 0 || stdout != "ok\n" {
		t.Fatalf("validate = %d %q, stderr:\n%s", code, stdout, stderr)
	}
}

func TestUsageErrorsExitWith2(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"validate", "--nope"}, {"token"}, {"run", "stray"}} {
		code, _, _ := runMain(t, context.Background(), args...)
		if code != 2 {
			t.Errorf("gatehouse %v: exit code %d, want 2", args, code)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, cmd := range []string{"run", "validate", "token", "version"} {
		code, stdout, _ := runMain(t, context.Background(), cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "Usage: gatehouse "+cmd) {
			t.Errorf("%s --help: exit %d, stdout %q", cmd, code, stdout)
		}
	}
}

func TestVersionPrintsAVersion(t *testing.T) {
	code, stdout, _ := runMain(t, context.Background(), "version")
	if code != 0 || !strings.HasPrefix(stdout, "gatehouse ") || len(strings.TrimSpace(stdout)) <= len("gatehouse") {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
}

func TestTokenIsSignedWithTheConfigSecret(t *testing.T) {
	path := writeConfig(t, minimalConfig)
	code, stdout, stderr := runMain(t, context.Background(), "token", "--config", path, "--sub", "alice",
		"--claim", "role=admin", "--claim", "scope=chat:read,chat:write", "--ttl", "2m")
	if code != 0 {
		t.Fatalf("token: exit %d, stderr %s", code, stderr)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(stdout), claims, func(*jwt.Token) (any, error) {
		return []byte("test-secret"), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify with the config's secret: %v", err)
	}
	if claims["sub"] != "alice" || claims["role"] != "admin" {
		t.Errorf("claims = %v", claims)
	}
	if scopes, _ := claims["scope"].([]any); len(scopes) != 2 {
		t.Errorf("scope claim = %v, want a list of two", claims["scope"])
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil || time.Until(exp.Time) > 2*time.Minute || time.Until(exp.Time) < time.Minute {
		t.Errorf("exp = %v, want about two minutes from now", exp)
	}
}

func TestTokenIsRefusedForPublicKeyConfigs(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "key.pem")
	// An Ed25519 public key.
	if err := os.WriteFile(pem, []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, fmt.Sprintf("auth:\n  jwt:\n    public_keys: [%q]\n    algorithms: [EdDSA]\n", pem))
	code, _, stderr := runMain(t, context.Background(), "token", "--config", path, "--sub", "alice")
	if code != 1 || !strings.Contains(stderr, "public keys") {
		t.Fatalf("token with a public-key config: exit %d, stderr %q", code, stderr)
	}
}

func TestRunServesHealthzAndStopsCleanly(t *testing.T) {
	path := writeConfig(t, minimalConfig)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"run", "--config", path, "--listen", addr, "--log-format", "json"}, &bytes.Buffer{}, &stderr)
	}()

	var status int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
			break
		}
	}
	if status != http.StatusOK {
		cancel()
		t.Fatalf("/healthz status %d; gateway log:\n%s", status, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", err, resp)
	}
	resp.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d after shutdown; log:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after its context was cancelled")
	}
	if strings.Contains(stderr.String(), "test-secret") {
		t.Error("the secret appears in the log")
	}
}

// TestValidateReportsErrorsOfEveryStageInOneRun writes a config with
// independent mistakes found at each stage (decoding, validation, building
// guards, handlers and expressions, reading the JWT keys and the TLS
// certificate) and expects every one of them, each at its line and column.
func TestValidateReportsErrorsOfEveryStageInOneRun(t *testing.T) {
	config := `server:
  listen: ":8080"
  pign_interval: 5s
  tls:
    cert_file: missing-cert.pem
    key_file: missing-key.pem
auth:
  jwt:
    algorithms: [RS256]
    public_keys: [missing-key.pem]
adapter:
  kind: redis
  redis: {url: "http://not-redis"}
colour: blue
guards:
  bad_expr:
    expr: 'data.x +* 1'
  bad_type:
    nosuchguard: {}
  bad_option:
    rate_limit: {key: user, rate: 1, burts: 2}
namespaces:
  /chat:
    events:
      a:
        guards: [bad_expr, undeclared]
        handler:
          emit: {event: x, data: 'user.'}
      b:
        handler:
          nosuchhandler: {}
      c:
        handler:
          broadcast: {evnt: x}
`
	path := writeConfig(t, config)
	code, stdout, stderr := runMain(t, context.Background(), "validate", "--config", path)
	if code != 1 || stdout != "" {
		t.Fatalf("validate = %d %q, want 1 and no output; stderr:\n%s", code, stdout, stderr)
	}
	want := []struct{ at, says string }{
		{":3:3: ", `unknown key "pign_interval"`},
		{":5:5: ", "server.tls: cannot load the certificate"},
		{":9:5: ", "auth.jwt: public_keys"},
		{":13:16: ", "adapter.redis.url must be"},
		{":14:1: ", `unknown key "colour"`},
		{":17:11: ", "invalid expression"},
		{":18:3: ", `unknown guard type "nosuchguard"`},
		{":21:38: ", `unknown key "burts"`},
		{":26:28: ", `unknown guard "undeclared"`},
		{":28:34: ", "invalid expression"},
		{":31:11: ", `unknown handler type "nosuchhandler"`},
		{":34:23: ", `unknown key "evnt"`},
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, path+w.at) && strings.Contains(l, w.says)
		}) {
			t.Errorf("no line %s%s... %s", path, w.at, w.says)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d (one per mistake):\n%s", len(lines), len(want), stderr)
	}
}
