package gatewayconfig

import (
	"strings"
	"testing"
)

func TestAllowedOriginsThatNoBrowserSendsAreRefusedAtTheirPosition(t *testing.T) {
	tests := []struct {
		origin   string
		fragment string
	}{
		{"https://example.com/", "has a path (a trailing slash included)"},
		{"https://example.com/app", "has a path"},
		{"example.com", "has no scheme"},
		{"localhost:3000", "has no scheme"},
		{"//example.com", "has no scheme"},
		{"https://", "has no host"},
		{"https://user@example.com", "has user information"},
		{"https://example.com?x=1", "has a query"},
		{"https://example.com#top", "has a fragment"},
		{"https://example.com:", "has an empty port"},
		{"https://Example.com", "upper-case"},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			yaml := "server:\n  allowed_origins:\n    - \"" + tc.origin + "\"\n" + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "gw.yaml:3:7: ") || !strings.Contains(msg, tc.fragment) || !strings.Contains(msg, "scheme://host[:port]") {
				t.Errorf("error = %q, want it at gw.yaml:3:7 saying %q and what is expected", msg, tc.fragment)
			}
		})
	}
}

func TestAllowedOriginsAcceptBrowserOriginsAndTheWildcard(t *testing.T) {
	yaml := "server:\n  allowed_origins: [\"*\", \"https://example.com\", \"http://localhost:3000\", \"http://[::1]:8080\", \"capacitor://localhost\"]\n" +
		strings.TrimPrefix(validNamespaces, "\n")
	if _, err := Parse("gw.yaml", []byte(yaml), envOf(nil)); err != nil {
		t.Fatal(err)
	}
}
