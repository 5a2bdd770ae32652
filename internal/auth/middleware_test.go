package auth

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// upgradeApp is a fiber app with the middleware in front of a route that
// reports what the middleware left in Locals.
func upgradeApp(v *Verifier) *fiber.App {
	// The read buffer fits an oversized token, so that the middleware (and
	// not fasthttp) is what refuses it.
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadBufferSize: 32 << 10})
	app.Use("/socket.io/", v.Middleware())
	app.Get("/socket.io/", func(c *fiber.Ctx) error {
		claims, _ := c.Locals(engineio.HandshakeLocal).(gatehouse.Claims)
		exp, hasExp := c.Locals(ExpLocal).(time.Time)
		return c.JSON(fiber.Map{
			"sub":     claims["sub"],
			"claims":  claims != nil,
			"has_exp": hasExp && !exp.IsZero(),
			"token":   c.Locals(tokenLocal) != nil,
		})
	})
	return app
}

func TestMiddleware(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{
		Secret:     testSecret,
		Algorithms: []string{"HS256"},
		Lookup:     []string{"header:Authorization", "query:token", "cookie:gh_token"},
		Leeway:     gatewayconfig.Duration(30 * time.Second),
		Issuer:     "https://id.example",
	})
	app := upgradeApp(v)
	hs := func(extra jwt.MapClaims, drop ...string) string {
		c := withClaims(jwt.MapClaims{"iss": "https://id.example"})
		for k, val := range extra {
			c[k] = val
		}
		for _, k := range drop {
			delete(c, k)
		}
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil)
	}
	valid := hs(nil)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, withClaims(jwt.MapClaims{"iss": "https://id.example"}), nil)

	tests := []struct {
		name       string
		request    func() *http.Request
		wantStatus int
		wantSub    string // on 200
		wantCode   string // on 401
		wantMsg    string
	}{
		{"header Bearer", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
			r.Header.Set("Authorization", "Bearer "+valid)
			return r
		}, 200, "alice", "", ""},
		{"lower-case bearer scheme", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.Header.Set("Authorization", "bearer "+valid)
			return r
		}, 200, "alice", "", ""},
		{"query token", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket&token="+valid, nil)
		}, 200, "alice", "", ""},
		{"cookie", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.AddCookie(&http.Cookie{Name: "gh_token", Value: valid})
			return r
		}, 200, "alice", "", ""},
		{"absent token passes without claims", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)
		}, 200, "", "", ""},
		{"other Authorization scheme passes without claims", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.Header.Set("Authorization", "Basic YWxpY2U6c2VjcmV0")
			return r
		}, 200, "", "", ""},
		{"expired within the leeway", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+hs(jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()}), nil)
		}, 200, "alice", "", ""},
		{"invalid signature", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodHS256, []byte("wrong-secret-wrong-secret-wrong!"), validClaims(), nil))
			return r
		}, 401, "", "unauthorized", "token signature is invalid"},
		{"garbage", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token=garbage", nil)
		}, 401, "", "unauthorized", "token is malformed"},
		{"alg none", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+none, nil)
		}, 401, "", "unauthorized", "algorithm none, which is not allowed"},
		{"expired beyond the leeway", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+hs(jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}), nil)
		}, 401, "", "token_expired", "token has expired"},
		{"not yet valid", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+hs(jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}), nil)
		}, 401, "", "unauthorized", "token is not valid yet"},
		{"missing exp", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+hs(nil, "exp"), nil)
		}, 401, "", "unauthorized", "no exp claim"},
		{"wrong issuer", func() *http.Request {
			return httptest.NewRequest("GET", "/socket.io/?token="+hs(jwt.MapClaims{"iss": "https://evil.example"}), nil)
		}, 401, "", "unauthorized", "issuer is not accepted"},
		{"over 8 KiB", func() *http.Request {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.Header.Set("Authorization", "Bearer "+hs(jwt.MapClaims{"pad": strings.Repeat("x", 9000)}))
			return r
		}, 401, "", "unauthorized", "larger than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := app.Test(tt.request(), 5000)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if tt.wantStatus == 200 {
				sub, _ := got["sub"].(string)
				if sub != tt.wantSub || got["claims"] != (tt.wantSub != "") || got["has_exp"] != (tt.wantSub != "") {
					t.Fatalf("locals = %v, want sub %q", got, tt.wantSub)
				}
				if got["token"] != false {
					t.Fatalf("the parsed token stayed in Locals")
				}
				return
			}
			if got["code"] != tt.wantCode || !strings.Contains(got["message"].(string), tt.wantMsg) {
				t.Fatalf("body = %v, want code %s and a message containing %q", got, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(string(body), "eyJ") {
				t.Fatalf("the refusal echoes the token: %s", body)
			}
		})
	}
}

func TestMiddlewareOnALiveListener(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}})
	app := upgradeApp(v)
	ln, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.Shutdown() }()

	base := "http://" + ln.Addr().String() + "/socket.io/"
	valid := sign(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(), nil)
	resp, err := http.Get(base + "?token=" + valid)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: status %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "?token=" + valid[:len(valid)-2])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("tampered token: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func listenLocal() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
