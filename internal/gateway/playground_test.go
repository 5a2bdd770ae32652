package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// The secrets of playgroundSecretsConfig: none may appear in any answer
// of the playground.
var playgroundSecrets = map[string]string{
	"jwt secret":        "jwt-secret-5f1c9e2a7b",
	"api key":           "api-key-83d0b6c4e1",
	"redis password":    "redis-pass-2e7a91fd03",
	"webhook password":  "hook-pass-6c3b8e0a94",
	"webhook token":     "hook-token-0d94a7e2c1",
	"webhook header":    "hook-bearer-b2f68d1e7a",
	"on_connect header": "connect-bearer-91ce4a07d3",
}

// playgroundSecretsConfig holds every kind of secret a config has: the JWT
// secret, server API keys, a Redis URL with a password, a webhook URL with
// credentials and a token in its query, and Authorization headers.
func playgroundSecretsConfig(redisPort int) string {
	s := playgroundSecrets
	return fmt.Sprintf(`
server:
  playground: {enabled: true, mint_tokens: true}
auth:
  jwt: {secret: %s, algorithms: [HS256]}
api:
  keys: [%s]
adapter:
  kind: redis
  redis: {url: "redis://:%s@127.0.0.1:%d/0"}
guards:
  body:
    schema:
      type: object
      required: [message]
      properties:
        message: {type: string, minLength: 1}
namespaces:
  /chat:
    on_connect:
      - webhook:
          url: https://hooks.example.com/connect
          headers: {Authorization: "Bearer %s"}
    events:
      send:
        guards: [body]
        handler:
          webhook:
            url: "https://user:%s@hooks.example.com/send?token=%s"
            headers: {Authorization: "Bearer %s"}
`, s["jwt secret"], s["api key"], s["redis password"], redisPort, s["on_connect header"],
		s["webhook password"], s["webhook token"], s["webhook header"])
}

// startRedisWithPassword runs a real redis-server on a free port that
// requires password.
func startRedisWithPassword(t *testing.T, password string) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(limitsWait)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			_ = c.Close()
			return port
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server on port %d did not listen within %v", port, limitsWait)
	return 0
}

// playgroundGet requests base+path and returns the status and the whole
// answer, headers included, as text.
func playgroundCall(t *testing.T, method, target, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Timeout: limitsWait, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	_ = res.Header.Write(&all)
	all.Write(raw)
	return res.StatusCode, all.String()
}

// secretForms are the ways a secret could be written into an answer.
func secretForms(secret string) []string {
	return []string{
		secret,
		url.QueryEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
}

func TestNoPlaygroundAnswerHoldsASecretOfTheConfig(t *testing.T) {
	port := startRedisWithPassword(t, playgroundSecrets["redis password"])
	g := startLiveGateway(t, playgroundSecretsConfig(port), Registries{})
	base := "http://" + g.addr + "/playground/"

	status, page := playgroundCall(t, http.MethodGet, base, "", "")
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d", base, status)
	}
	paths := []string{"", "config.json", "no-such-page", "assets/no-such.js"}
	for _, m := range regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		paths = append(paths, m[1])
	}
	if len(paths) < 7 {
		t.Fatalf("the page links %d assets: %v", len(paths)-4, paths)
	}
	answers := map[string]string{}
	for _, p := range paths {
		_, answers["GET "+p] = playgroundCall(t, http.MethodGet, base+p, "", "")
	}
	_, answers["GET /playground"] = playgroundCall(t, http.MethodGet, strings.TrimSuffix(base, "/"), "", "")
	status, answers["POST api/token"] = playgroundCall(t, http.MethodPost, base+"api/token", "application/json", `{"claims":{"sub":"alice"}}`)
	if status != http.StatusOK {
		t.Fatalf("mint = %d %s", status, answers["POST api/token"])
	}
	_, answers["POST api/token (bad)"] = playgroundCall(t, http.MethodPost, base+"api/token", "application/json", `{"claims":{}}`)
	if !strings.Contains(answers["GET config.json"], `"name":"send"`) {
		t.Fatalf("config.json does not list the event send: %s", answers["GET config.json"])
	}
	for what, secret := range playgroundSecrets {
		for request, answer := range answers {
			for _, form := range secretForms(secret) {
				if strings.Contains(answer, form) {
					t.Errorf("%s answers the %s (%q)", request, what, form)
				}
			}
		}
	}
}

func TestPlaygroundPathsAnswer404WhenItIsOff(t *testing.T) {
	g := startLiveGateway(t, `
auth:
  jwt: {secret: s3cret-for-the-test, algorithms: [HS256]}
namespaces:
  /chat:
    events:
      ping: {handler: {reply: {value: '"pong"'}}}
`, Registries{})
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/playground"},
		{http.MethodGet, "/playground/"},
		{http.MethodGet, "/playground/config.json"},
		{http.MethodGet, "/playground/assets/socket.io.min.js"},
		{http.MethodPost, "/playground/api/token"},
	} {
		status, answer := playgroundCall(t, tc.method, "http://"+g.addr+tc.path, "application/json", `{"claims":{"sub":"a"}}`)
		if status != http.StatusNotFound {
			t.Errorf("%s %s = %d with the playground off, want 404: %s", tc.method, tc.path, status, answer)
		}
	}
}

func TestPlaygroundShowsTheConfigOfTheLastReload(t *testing.T) {
	const before = `
server:
  playground: {enabled: true, path: /try}
namespaces:
  /chat:
    auth: none
    events:
      first: {handler: {reply: {value: '"one"'}}}
`
	g := startLiveGateway(t, before, Registries{})
	if _, answer := playgroundCall(t, http.MethodGet, "http://"+g.addr+"/try/config.json", "", ""); !strings.Contains(answer, `"name":"first"`) {
		t.Fatalf("config.json before the reload: %s", answer)
	}
	next, err := gatewayconfig.Parse("gateway.yaml", []byte(strings.Replace(before, "first:", "second:", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if _, err := g.gw.Reload(ctx, next); err != nil {
		t.Fatal(err)
	}
	_, answer := playgroundCall(t, http.MethodGet, "http://"+g.addr+"/try/config.json", "", "")
	if !strings.Contains(answer, `"name":"second"`) || strings.Contains(answer, `"name":"first"`) {
		t.Fatalf("config.json after the reload lists %s, want second only", answer)
	}
}
