package gateway

import (
	"encoding/json"
	"testing"
)

func TestTokenFromAuth(t *testing.T) {
	tests := []struct {
		name, auth, key string
		token           string
		present         bool
	}{
		{"token as sent by socket.io-client", `{"token":"a.b.c"}`, "token", "a.b.c", true},
		{"other key configured", `{"token":"x","jwt":"a.b.c"}`, "jwt", "a.b.c", true},
		{"escaped string is unescaped", `{"token":"a\/b"}`, "token", "a/b", true},
		{"empty string is present", `{"token":""}`, "token", "", true},
		{"number is present but no token", `{"token":42}`, "token", "", true},
		{"null counts as absent", `{"token":null}`, "token", "", false},
		{"missing key", `{"other":"a.b.c"}`, "token", "", false},
		{"no auth payload", ``, "token", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, present := tokenFromAuth(json.RawMessage(tc.auth), tc.key)
			if token != tc.token || present != tc.present {
				t.Fatalf("tokenFromAuth(%s, %q) = %q, %v; want %q, %v", tc.auth, tc.key, token, present, tc.token, tc.present)
			}
		})
	}
}
