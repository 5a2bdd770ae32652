package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/auth"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

const testSecret = "playground-test-secret-0123456789"

// chatConfig is a small config with an inline schema, a schema file, a
// guard of another kind and two handlers.
const chatConfig = `
server:
  allowed_origins: ["http://localhost:3000"]
auth:
  jwt:
    secret: ` + testSecret + `
    algorithms: [HS256]
guards:
  body:
    schema:
      type: object
      required: [message]
      properties:
        message: {type: string, minLength: 1, maxLength: 20}
        mood: {enum: [happy, sad]}
  from_file:
    schema: {file: room.json}
  admin_only:
    claims: {role: admin}
namespaces:
  /chat:
    events:
      send:
        guards: [admin_only, body]
        handler:
          broadcast: {event: message, data: 'data'}
      join:
        guards: [from_file]
        handler:
          join: {room: data.room}
      whoami:
        handler:
          reply: {value: user}
`

// parseConfig parses text as the gateway.yaml of a fresh directory that
// also holds room.json.
func parseConfig(t *testing.T, text string) *gatewayconfig.Config {
	t.Helper()
	dir := t.TempDir()
	room := `{"type": "object", "required": ["room"], "properties": {"room": {"type": "string", "minLength": 3}}}`
	if err := os.WriteFile(filepath.Join(dir, "room.json"), []byte(room), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gatewayconfig.Parse(filepath.Join(dir, "gateway.yaml"), []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// newApp mounts the playground of cfg on a Fiber app, with the signer the
// gateway would give it.
func newApp(t *testing.T, cfg *gatewayconfig.Config, mintTokens bool) *fiber.App {
	t.Helper()
	var signer Signer
	if cfg.Auth.JWT != nil {
		v, err := auth.NewVerifier(context.Background(), cfg.Auth.JWT, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		signer = v
	}
	app := fiber.New()
	err := Mount(app, Options{Path: DefaultPath, MintTokens: mintTokens, Current: func() (*gatewayconfig.Config, Signer) {
		return cfg, signer
	}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %q", a.status, a.body)
	}
	return m
}

func call(t *testing.T, app *fiber.App, method, path, contentType, body string) answer {
	t.Helper()
	return callWithOrigin(t, app, method, path, contentType, "", body)
}

// callWithOrigin is call from a browser page of origin ("" for none).
func callWithOrigin(t *testing.T, app *fiber.App, method, path, contentType, origin, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: raw}
}

func TestViewListsEachEventWithItsGuardsHandlersAndSchemasInWrittenOrder(t *testing.T) {
	v, err := BuildView(parseConfig(t, chatConfig), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Namespaces) != 1 || v.Namespaces[0].Name != "/chat" || v.Namespaces[0].Auth != "required" {
		t.Fatalf("namespaces = %+v", v.Namespaces)
	}
	events := v.Namespaces[0].Events
	var names []string
	for _, e := range events {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "send,join,whoami" {
		t.Fatalf("events = %v, want send, join, whoami in file order", names)
	}
	send := events[0]
	if len(send.Guards) != 2 || send.Guards[0] != (GuardRef{"admin_only", "claims"}) || send.Guards[1] != (GuardRef{"body", "schema"}) {
		t.Errorf("send guards = %+v", send.Guards)
	}
	if len(send.Handlers) != 1 || send.Handlers[0] != "broadcast" {
		t.Errorf("send handlers = %v", send.Handlers)
	}
	wantInline := `{"type":"object","required":["message"],"properties":{"message":{"type":"string","minLength":1,"maxLength":20},"mood":{"enum":["happy","sad"]}}}`
	if len(send.Schemas) != 1 || string(send.Schemas[0]) != wantInline {
		t.Errorf("send schema = %s, want %s", send.Schemas, wantInline)
	}
	if len(events[1].Schemas) != 1 || !strings.Contains(string(events[1].Schemas[0]), `"minLength":3`) {
		t.Errorf("join schema (from room.json) = %s", events[1].Schemas)
	}
	if len(events[2].Schemas) != 0 || len(events[2].Guards) != 0 {
		t.Errorf("whoami = %+v, want no guards and no schema", events[2])
	}
}

func TestPageAndAssetsAreServedWithTheirTypesAndAPolicyThatAllowsOnlyTheirOrigin(t *testing.T) {
	app := newApp(t, parseConfig(t, chatConfig), false)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/playground/", "text/html", "Gatehouse playground"},
		{"/playground/assets/playground.js", "text/javascript", "config.json"},
		{"/playground/assets/schema.js", "text/javascript", "GatehouseSchema"},
		{"/playground/assets/playground.css", "text/css", ".socket"},
		{"/playground/assets/socket.io.min.js", "text/javascript", "Released under the MIT License"},
		{"/playground/assets/socket.io-client.LICENSE", "text/plain", "Guillermo Rauch"},
		{"/playground/config.json", "application/json", `"name":"/chat"`},
	} {
		a := call(t, app, http.MethodGet, tc.path, "", "")
		if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), tc.contentType) || !bytes.Contains(a.body, []byte(tc.contains)) {
			t.Errorf("GET %s = %d %q, body without %q", tc.path, a.status, a.header.Get("Content-Type"), tc.contains)
		}
		if !strings.Contains(a.header.Get("Content-Security-Policy"), "default-src 'none'") || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v lack the page's policy", tc.path, a.header)
		}
	}
	if a := call(t, app, http.MethodGet, "/playground", "", ""); a.status != http.StatusMovedPermanently || a.header.Get("Location") != "/playground/" {
		t.Errorf("GET /playground = %d to %q, want a redirect to /playground/", a.status, a.header.Get("Location"))
	}
	for _, path := range []string{"/playground/nothing", "/playground/assets/nothing.js", "/playground/assets/../doc.go", "/playground/api/other"} {
		if a := call(t, app, http.MethodGet, path, "", ""); a.status != http.StatusNotFound || a.json(t)["code"] != "not_found" {
			t.Errorf("GET %s = %d %s, want 404 not_found", path, a.status, a.body)
		}
	}
}

func TestMintIsRefusedUnlessTurnedOnAndTheConfigHasAnHMACSecret(t *testing.T) {
	publicKeyOnly := strings.Replace(chatConfig, "secret: "+testSecret+"\n    algorithms: [HS256]",
		"jwks_url: https://idp.example.com/jwks.json\n    algorithms: [RS256]", 1)
	noAuth := regexp.MustCompile(`(?s)auth:\n  jwt:.*?\nguards:`).ReplaceAllString(chatConfig, "guards:")
	for _, tc := range []struct {
		name, config string
		mintTokens   bool
		reason       string
	}{
		{"mint_tokens off", chatConfig, false, "mint_tokens is not true"},
		{"no auth.jwt", noAuth, true, "auth.jwt is not configured"},
		{"public keys only", publicKeyOnly, true, "no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseConfig(t, tc.config)
			app := newApp(t, cfg, tc.mintTokens)
			a := call(t, app, http.MethodPost, "/playground/api/token", "application/json", `{"claims":{"sub":"alice"}}`)
			got := a.json(t)
			if a.status != http.StatusForbidden || got["code"] != "forbidden" || !strings.Contains(got["message"].(string), tc.reason) {
				t.Errorf("mint = %d %v, want 403 forbidden saying %q", a.status, got, tc.reason)
			}
			view := call(t, app, http.MethodGet, "/playground/config.json", "", "").json(t)["auth"].(map[string]any)
			if view["mint_tokens"] != false || !strings.Contains(view["mint_off_reason"].(string), tc.reason) {
				t.Errorf("view auth = %v, want minting off saying %q", view, tc.reason)
			}
		})
	}
}

func TestMintSignsTheClaimsAskedForWithTheConfigSecretAndABoundedLifetime(t *testing.T) {
	cfg := parseConfig(t, chatConfig)
	app := newApp(t, cfg, true)
	// From the playground's own page: the Origin names the gateway's host.
	a := callWithOrigin(t, app, http.MethodPost, "/playground/api/token", "application/json", "http://example.com",
		`{"claims":{"sub":"bob","role":"admin","n":12345678901234,"exp":99999999999},"expires_in":120}`)
	if a.status != http.StatusOK {
		t.Fatalf("mint = %d %s", a.status, a.body)
	}
	token, _ := a.json(t)["token"].(string)
	verifier, err := auth.NewVerifier(context.Background(), cfg.Auth.JWT, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	claims, exp, err := verifier.Verify(token)
	if err != nil {
		t.Fatalf("the minted token does not verify with the config's secret: %v", err)
	}
	if claims["sub"] != "bob" || claims["role"] != "admin" {
		t.Errorf("claims = %v", claims)
	}
	if n, _ := json.Marshal(claims["n"]); string(n) != "12345678901234" {
		t.Errorf("claim n = %s, want the integer as sent", n)
	}
	if life := time.Until(exp); life > 121*time.Second || life < 60*time.Second {
		t.Errorf("token expires in %v, want the 120 s asked for (the claims' own exp ignored)", life)
	}
}

func TestMintRefusesMalformedRequestsWithACode(t *testing.T) {
	app := newApp(t, parseConfig(t, chatConfig), true)
	for _, tc := range []struct {
		name, contentType, origin, body string
		status                          int
		code                            string
	}{
		{"another site's page", "application/json", "https://evil.example", `{"claims":{"sub":"a"}}`, http.StatusForbidden, "forbidden"},
		{"a form post", "application/x-www-form-urlencoded", "", "claims=x", http.StatusUnsupportedMediaType, "invalid_request"},
		{"no sub", "application/json", "", `{"claims":{"role":"admin"}}`, http.StatusBadRequest, "invalid_request"},
		{"an unknown field", "application/json", "", `{"claims":{"sub":"a"},"secret":"x"}`, http.StatusBadRequest, "invalid_request"},
		{"a lifetime over a day", "application/json", "", `{"claims":{"sub":"a"},"expires_in":86401}`, http.StatusBadRequest, "invalid_request"},
		{"a zero lifetime", "application/json", "", `{"claims":{"sub":"a"},"expires_in":0}`, http.StatusBadRequest, "invalid_request"},
		{"not JSON", "application/json", "", `{"claims":`, http.StatusBadRequest, "invalid_request"},
		{"a huge body", "application/json", "", `{"claims":{"sub":"` + strings.Repeat("a", maxMintBody) + `"}}`, http.StatusRequestEntityTooLarge, "payload_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := callWithOrigin(t, app, http.MethodPost, "/playground/api/token", tc.contentType, tc.origin, tc.body)
			if got := a.json(t); a.status != tc.status || got["code"] != tc.code || got["message"] == "" {
				t.Errorf("mint = %d %v, want %d %s with a message", a.status, got, tc.status, tc.code)
			}
		})
	}
}

// The page embeds the official socket.io-client bundle at the version the
// end-to-end suite pins (e2e/package-lock.json), byte for byte when the
// suite's node_modules are installed.
func TestEmbeddedClientIsTheOfficialBundleOfThePinnedVersion(t *testing.T) {
	embedded, err := assets.ReadFile("assets/socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile("../../e2e/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkgs struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(lock, &pkgs); err != nil {
		t.Fatal(err)
	}
	version := pkgs.Packages["node_modules/socket.io-client"].Version
	if version == "" || !bytes.HasPrefix(embedded, []byte("/*!\n * Socket.IO v"+version+"\n")) {
		t.Fatalf("the embedded bundle starts %q, want the license header of socket.io-client %s (make playground-assets)", embedded[:min(60, len(embedded))], version)
	}
	npm, err := os.ReadFile("../../e2e/node_modules/socket.io-client/dist/socket.io.min.js")
	if os.IsNotExist(err) {
		t.Skip("e2e/node_modules is not installed: only the version was compared")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embedded, npm) {
		t.Fatal("the embedded bundle differs from e2e/node_modules/socket.io-client/dist/socket.io.min.js: run make playground-assets")
	}
}

func TestURLNamesLocalhostForAnUnspecifiedAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		path string
		want string
	}{
		{"0.0.0.0:8080", false, "/playground", "http://localhost:8080/playground/"},
		{"[::]:8080", false, "/playground/", "http://localhost:8080/playground/"},
		{"127.0.0.1:9000", true, "/try", "https://127.0.0.1:9000/try/"},
		{"[::1]:80", false, "/playground", "http://[::1]:80/playground/"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := URL(addr, tc.tls, tc.path); got != tc.want {
			t.Errorf("URL(%s, tls %v, %s) = %s, want %s", tc.addr, tc.tls, tc.path, got, tc.want)
		}
	}
}
