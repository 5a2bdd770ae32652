package gatewayconfig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHooksAreOffUnlessWritten(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Hooks != nil {
		t.Errorf("server.hooks = %+v without the key, want nil", cfg.Server.Hooks)
	}
}

func TestHooksTakeTheirDefaultsBesideTheURL(t *testing.T) {
	yaml := "server:\n  hooks:\n    url: http://backend:9000/hooks\n" + validNamespaces
	cfg, err := Parse("gw.yaml", yamlText(yaml), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Server.Hooks
	if h == nil || h.URL != "http://backend:9000/hooks" {
		t.Fatalf("server.hooks = %+v", h)
	}
	if strings.Join(h.Events, ",") != "connect,disconnect,room_occupied,room_vacated" ||
		h.Timeout != Duration(5*time.Second) || h.Batch != (HooksBatch{Size: 100, Interval: Duration(time.Second)}) ||
		h.Retry != (HooksRetry{MinBackoff: Duration(200 * time.Millisecond), MaxBackoff: Duration(10 * time.Second)}) ||
		h.Buffer != 10000 || h.BufferBytes != 8*Megabyte || h.FlushTimeout != Duration(5*time.Second) ||
		h.NodeTimeout != Duration(15*time.Second) {
		t.Errorf("server.hooks defaults = %+v", *h)
	}
}

func TestHooksErrorsNameTheKeyAndItsPosition(t *testing.T) {
	tests := []struct {
		name, hooks, want string
	}{
		{"no url", "events: [connect]", "gw.yaml:3:5: server.hooks.url must be an http:// or https:// URL"},
		{"other scheme", "url: ftp://backend/hooks", "server.hooks.url must be an http:// or https:// URL"},
		{"misspelt kind", "url: http://b/h\n    events: [connect, conect]", `gw.yaml:4:23: server.hooks.events[1] must be one of connect, disconnect, room_occupied, room_vacated, got "conect" (did you mean "connect"?)`},
		{"kind twice", "url: http://b/h\n    events: [connect, connect]", `event "connect" is listed twice`},
		{"header name", "url: http://b/h\n    headers: {\"Bad Header\": x}", `"Bad Header" is not a header name`},
		{"batch size", "url: http://b/h\n    batch: {size: 0}", "server.hooks.batch.size must be between 1 and 10000, got 0"},
		{"buffer", "url: http://b/h\n    buffer: 0", "server.hooks.buffer must be at least 1"},
		{"node timeout", "url: http://b/h\n    node_timeout: 1s", "server.hooks.node_timeout must be at least 3s"},
		{"backoffs", "url: http://b/h\n    retry: {min_backoff: 2s, max_backoff: 1s}", "must not be below min_backoff"},
		{"unknown key", "url: http://b/h\n    bufer: 3", `did you mean "buffer"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "server:\n  hooks:\n    " + tt.hooks + "\n" + validNamespaces
			_, err := Parse("gw.yaml", yamlText(yaml), envOf(nil))
			var list ErrorList
			if !errors.As(err, &list) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
