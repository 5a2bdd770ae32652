package gatewayconfig

import (
	"strings"
	"testing"
)

func TestPlaygroundIsOffByDefaultAtPlayground(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Playground{Path: "/playground"}); cfg.Server.Playground != want {
		t.Errorf("playground = %+v, want %+v", cfg.Server.Playground, want)
	}
}

func TestPlaygroundIsTurnedOnFromTheEnvironment(t *testing.T) {
	yaml := `
server:
  playground:
    enabled: ${GATEHOUSE_PLAYGROUND:-false}
    mint_tokens: ${GATEHOUSE_PLAYGROUND:-false}
` + validNamespaces
	for env, want := range map[string]bool{"": false, "true": true} {
		vars := map[string]string{}
		if env != "" {
			vars["GATEHOUSE_PLAYGROUND"] = env
		}
		cfg, err := Parse("gw.yaml", yamlText(yaml), envOf(vars))
		if err != nil {
			t.Fatal(err)
		}
		if pg := cfg.Server.Playground; pg.Enabled != want || pg.MintTokens != want {
			t.Errorf("with GATEHOUSE_PLAYGROUND=%q: playground = %+v, want enabled and mint_tokens %v", env, pg, want)
		}
	}
}

func TestPlaygroundPathMayShadowNoOtherRoute(t *testing.T) {
	for _, tc := range []struct {
		name, path, where, want string
	}{
		{"no leading slash", "playground", "gw.yaml:3:27: ", "must start with /"},
		{"the root", "/", "gw.yaml:3:27: ", "must start with /"},
		{"inside the Engine.IO path", "/socket.io/try", "gw.yaml:3:27: ", "overlaps server.path"},
		{"around the Engine.IO path", "/socket.io", "gw.yaml:3:27: ", "overlaps server.path"},
		{"the metrics path", "/metrics", "gw.yaml:3:27: ", "overlaps server.metrics_path"},
		{"the server API", "/api/try", "gw.yaml:3:27: ", "overlaps a route of the gateway"},
		{"the health check", "/healthz/", "gw.yaml:3:27: ", "overlaps a route of the gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "server:\n  playground:\n    {enabled: true, path: \"" + tc.path + "\"}\n" + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil || !strings.Contains(err.Error(), tc.where) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one at %q saying %q", err, tc.where, tc.want)
			}
		})
	}
	yaml := "server:\n  playground: {enabled: false, path: /metrics}\n" + strings.TrimPrefix(validNamespaces, "\n")
	if _, err := Parse("gw.yaml", []byte(yaml), envOf(nil)); err != nil {
		t.Errorf("a playground that is off is not checked: %v", err)
	}
}
