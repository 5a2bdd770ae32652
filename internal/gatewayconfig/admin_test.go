package gatewayconfig

import (
	"strings"
	"testing"
)

func TestAdminIsOffByDefaultAtAdmin(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Admin{Path: "/admin", RecentRefusals: 200}); cfg.Server.Admin != want {
		t.Errorf("admin = %+v, want %+v", cfg.Server.Admin, want)
	}
}

func TestAdminIsRefusedWithoutAPIKeysOrOnAnotherRoute(t *testing.T) {
	const keys = "api:\n  keys: [k1]\n"
	for _, tc := range []struct {
		name, admin, api, where, want string
	}{
		{"no api keys", "{enabled: true}", "", "gw.yaml:2:20: ", "write api.keys"},
		{"no leading slash", "{enabled: true, path: admin}", keys, "gw.yaml:2:32: ", "must start with /"},
		{"the root", "{enabled: true, path: /}", keys, "gw.yaml:2:32: ", "must start with /"},
		{"inside the Engine.IO path", "{enabled: true, path: /socket.io/admin}", keys, "gw.yaml:2:32: ", "overlaps server.path"},
		{"the metrics path", "{enabled: true, path: /metrics}", keys, "gw.yaml:2:32: ", "overlaps server.metrics_path"},
		{"the server API", "{enabled: true, path: /api/admin}", keys, "gw.yaml:2:32: ", "overlaps a route of the gateway"},
		{"the readiness check", "{enabled: true, path: /readyz}", keys, "gw.yaml:2:32: ", "overlaps a route of the gateway"},
		{"the playground", "{enabled: true, path: /playground/ops}\n  playground: {enabled: true}", keys, "gw.yaml:2:32: ", "overlaps server.playground.path"},
		{"no refusals kept", "{recent_refusals: 0}", keys, "gw.yaml:2:28: ", "between 1 and 10000"},
		{"too many refusals kept", "{recent_refusals: 10001}", keys, "gw.yaml:2:28: ", "between 1 and 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "server:\n  admin: " + tc.admin + "\n" + tc.api + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil || !strings.Contains(err.Error(), tc.where) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one at %q saying %q", err, tc.where, tc.want)
			}
		})
	}
	// Off, its path is not checked against the others.
	yaml := "server:\n  admin: {enabled: false, path: /metrics}\n" + strings.TrimPrefix(validNamespaces, "\n")
	if _, err := Parse("gw.yaml", []byte(yaml), envOf(nil)); err != nil {
		t.Errorf("admin off at /metrics: %v", err)
	}
	yaml = "server:\n  admin: {enabled: true, path: /ops/}\n" + keys + strings.TrimPrefix(validNamespaces, "\n")
	cfg, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
	if err != nil || cfg.Server.Admin.Path != "/ops/" {
		t.Errorf("admin at /ops/: %v %+v", err, cfg)
	}
}
