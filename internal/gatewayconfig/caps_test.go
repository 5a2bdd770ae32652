package gatewayconfig

import (
	"strings"
	"testing"
	"time"
)

func TestRotationKeysAreReadWithTheirDefaults(t *testing.T) {
	text := `
auth:
  jwt:
    secret: new-secret
    algorithms: [HS256]
    previous_secrets:
      - secret: old-secret
        until: 2026-12-03T12:00:00Z
namespaces:
  /chat:
    max_connections: 500
`
	cfg, err := Parse("gw.yaml", yamlText(text), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.Auth.JWT
	want := []PreviousSecret{{Secret: "old-secret", Until: "2026-12-03T12:00:00Z"}}
	if len(j.PreviousSecrets) != 1 || j.PreviousSecrets[0] != want[0] {
		t.Errorf("previous_secrets = %+v, want %+v", j.PreviousSecrets, want)
	}
	if j.JWKSUnknownKID != "refetch" || j.JWKSRefetchInterval != Duration(30*time.Second) {
		t.Errorf("jwks_unknown_kid = %q, jwks_refetch_interval = %v; want refetch and 30s", j.JWKSUnknownKID, j.JWKSRefetchInterval)
	}
	if got := cfg.Namespaces[0].MaxConnections; got != 500 {
		t.Errorf("namespaces./chat.max_connections = %d, want 500", got)
	}
	if got := cfg.Server.Limits; got.MaxConnectionsPerUser != 100 || got.UserClaim != "sub" {
		t.Errorf("max_connections_per_user = %d, user_claim = %q; want 100 and sub", got.MaxConnectionsPerUser, got.UserClaim)
	}
}

func TestRotationAndCapMistakesAreReportedAtTheirPosition(t *testing.T) {
	const head = "auth:\n  jwt:\n    secret: new-secret\n    algorithms: [HS256]\n"
	tests := []struct {
		name     string
		text     string
		want     string
		fragment string
	}{
		{"until not a time", head + "    previous_secrets:\n      - {secret: old, until: tomorrow}\n",
			"gw.yaml:6:30: ", `expected an RFC 3339 time such as 2026-12-03T12:00:00Z, got "tomorrow"`},
		{"until without offset", head + "    previous_secrets:\n      - {secret: old, until: 2026-12-03T12:00:00}\n",
			"gw.yaml:6:30: ", "RFC 3339"},
		{"until missing", head + "    previous_secrets:\n      - {secret: old}\n",
			"gw.yaml:6:9: ", "until: required"},
		{"previous secret is the current one", head + "    previous_secrets:\n      - {secret: new-secret, until: 2026-12-03T12:00:00Z}\n",
			"gw.yaml:6:18: ", "is the current secret"},
		{"empty previous secret", head + "    previous_secrets:\n      - {secret: '', until: 2026-12-03T12:00:00Z}\n",
			"gw.yaml:6:18: ", "must not be empty"},
		{"unknown kid policy misspelt", head + "    jwks_unknown_kid: refech\n",
			"gw.yaml:5:23: ", `did you mean "refetch"`},
		{"refetch interval too short", head + "    jwks_refetch_interval: 100ms\n",
			"gw.yaml:5:28: ", "must be at least 1s"},
		{"negative namespace cap", "namespaces:\n  /chat:\n    max_connections: -3\n",
			"gw.yaml:3:22: ", "namespaces./chat.max_connections must be 0 (no limit) or more, got -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if !strings.Contains(text, "namespaces:") {
				text += strings.TrimPrefix(validNamespaces, "\n")
			}
			_, err := Parse("gw.yaml", []byte(text), envOf(nil))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.fragment) {
				t.Errorf("error = %q, want prefix %q and %q", msg, tc.want, tc.fragment)
			}
		})
	}
}

func TestAPreviousSecretWhoseWindowEndedStillLoads(t *testing.T) {
	text := `
auth:
  jwt:
    secret: new-secret
    algorithms: [HS256]
    previous_secrets:
      - {secret: old-secret, until: "2001-01-01T00:00:00Z"}
` + strings.TrimPrefix(validNamespaces, "\n")
	if _, err := Parse("gw.yaml", yamlText(text), envOf(nil)); err != nil {
		t.Fatalf("a rotation that is over refused the config: %v", err)
	}
}
