package handlers_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/handlers"
)

func TestBuiltinsAreRegistered(t *testing.T) {
	for _, name := range []string{"reply", "emit", "broadcast", "join", "leave", "webhook", "publish"} {
		if _, ok := handlers.Lookup(name); !ok {
			t.Errorf("handler type %q is not registered", name)
		}
	}
}

func TestFactoriesRefuseBadOptionsWithTheirPosition(t *testing.T) {
	tests := []struct {
		name        string
		handlerType string
		options     string
		want        string // prefix "file:line:col: " and a part of the message
	}{
		{"reply without value", "reply", "{}", "gateway.yaml:1:1: reply: value or args is required"},
		{"reply with broken CEL", "reply", "value: 'data.'", "gateway.yaml:1:8: invalid expression"},
		{"reply with unknown variable", "reply", "value: 'usr.sub'", "gateway.yaml:1:8: invalid expression"},
		{"emit without event", "emit", "data: data", "gateway.yaml:1:1: emit: event is required"},
		{"broadcast with broken room", "broadcast", "event: message\nto: 'data.room +'", "gateway.yaml:2:5: invalid expression"},
		{"broadcast without event", "broadcast", "to: data.room", "gateway.yaml:1:1: broadcast: event is required"},
		{"join without room", "join", "reply: '{}'", "gateway.yaml:1:1: join: room is required"},
		{"leave with broken reply", "leave", "room: data.room\nreply: '{'", "gateway.yaml:2:8: invalid expression"},
		{"webhook without url", "webhook", "timeout: 1s", "gateway.yaml:1:1: webhook: url is required"},
		{"webhook with ftp url", "webhook", "timeout: 1s\nurl: ftp://example.com/x", "gateway.yaml:2:6: webhook: url \"ftp://example.com/x\" must be an absolute http or https URL"},
		{"webhook with relative url", "webhook", "url: /events", "gateway.yaml:1:6: webhook: url \"/events\" must be an absolute http or https URL"},
		{"webhook with url without host", "webhook", "url: 'http://'", "gateway.yaml:1:6: webhook: url \"http://\" has no host"},
		{"webhook with bad header name", "webhook", "url: http://127.0.0.1:9/\nheaders: {'X Bad': v}", "gateway.yaml:2:10: webhook: \"X Bad\" is not a valid header name"},
		{"webhook with broken reply", "webhook", "url: http://127.0.0.1:9/\nreply: 'data.('", "gateway.yaml:2:8: invalid expression"},
		{"webhook with misspelt option", "webhook", "url: http://127.0.0.1:9/\ntimout: 1s", "gateway.yaml:2:1"},
		{"webhook with bad timeout", "webhook", "url: http://127.0.0.1:9/\ntimeout: soon", "gateway.yaml:2:10"},
		{"publish with broken reply", "publish", "channel: orders\nreply: '1 +'", "gateway.yaml:2:8: invalid expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tryBuild(t, tt.handlerType, tt.options)
			if err == nil {
				t.Fatalf("factory accepted %q and built %T", tt.options, h)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
