package gateway

import (
	"encoding/json"
	"testing"
)

func TestWithoutMemberLeavesTheTokenOut(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"the token among other members", `{"token":"s3cret","team":"red","n":1.50}`, `{"n":1.50,"team":"red"}`},
		{"the token alone", `{"token":"s3cret"}`, `{}`},
		{"an escaped key", `{"tok\u0065n":"s3cret","a":1}`, `{"a":1}`},
		{"a key written twice", `{"token":"a","token":"b","a":1}`, `{"a":1}`},
		{"whitespace around the object", " \n{\"token\":\"s3cret\"} ", `{}`},
		{"no token: the payload as received", `{"b":2, "a":1}`, `{"b":2, "a":1}`},
		{"a token nested deeper is another member's", `{"a":{"token":"x"}}`, `{"a":{"token":"x"}}`},
		{"not an object", `["token"]`, `["token"]`},
		{"absent", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withoutMember(json.RawMessage(tt.raw), "token")); got != tt.want {
				t.Fatalf("withoutMember(%s) = %s, want %s", tt.raw, got, tt.want)
			}
		})
	}
}
