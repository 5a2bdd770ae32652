package auth

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

func TestMiddlewareLeavesRequestsWithASessionIDToTheSession(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Lookup: []string{"header:Authorization", "query:token"}})
	app := upgradeApp(v)
	expired := sign(t, jwt.SigningMethodHS256, []byte(testSecret), withClaims(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}), nil)
	tests := []struct {
		name       string
		target     string
		header     string
		wantStatus int
		wantClaims bool
	}{
		{"poll with a sid and an expired query token", "/socket.io/?EIO=4&transport=polling&sid=abc&token=" + expired, "", 200, false},
		{"poll with a sid and an expired header token", "/socket.io/?EIO=4&transport=polling&sid=abc", "Bearer " + expired, 200, false},
		{"probe with a sid and a malformed token", "/socket.io/?EIO=4&transport=websocket&sid=abc&token=garbage", "", 200, false},
		{"handshake with an expired token", "/socket.io/?EIO=4&transport=polling&token=" + expired, "", 401, false},
		{"handshake with a malformed token", "/socket.io/?EIO=4&transport=polling&token=garbage", "", 401, false},
		{"handshake with an empty sid and a malformed token", "/socket.io/?EIO=4&transport=polling&sid=&token=garbage", "", 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.target, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if resp.StatusCode != 200 {
				return
			}
			var got map[string]any
			_ = json.Unmarshal(body, &got)
			if got["claims"] != tt.wantClaims {
				t.Fatalf("claims left for the request: %v, want %v", got["claims"], tt.wantClaims)
			}
		})
	}
}

func TestCheckLifetime(t *testing.T) {
	v := newVerifier(t, gatewayconfig.JWT{Secret: testSecret, Algorithms: []string{"HS256"}, Leeway: gatewayconfig.Duration(30 * time.Second)})
	now := time.Now()
	tests := []struct {
		name     string
		claims   gatehouse.Claims
		wantCode gatehouse.Code // "" when the claims are still valid
	}{
		{"valid", gatehouse.Claims{"exp": float64(now.Add(time.Minute).Unix())}, ""},
		{"expired within the leeway", gatehouse.Claims{"exp": float64(now.Add(-10 * time.Second).Unix())}, ""},
		{"expired past the leeway", gatehouse.Claims{"exp": float64(now.Add(-time.Minute).Unix())}, gatehouse.CodeTokenExpired},
		{"not valid yet past the leeway", gatehouse.Claims{"nbf": float64(now.Add(time.Minute).Unix())}, gatehouse.CodeUnauthorized},
		{"no time claims", gatehouse.Claims{"sub": "alice"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.CheckLifetime(tt.claims)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("CheckLifetime = %v, want nil", err)
				}
				return
			}
			if got := gatehouse.AsError(err).Code; got != tt.wantCode {
				t.Fatalf("CheckLifetime = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}
