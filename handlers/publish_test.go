package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

func TestPublishHandsTheEventToTheAdapter(t *testing.T) {
	tests := []struct {
		name        string
		options     string
		claims      gatehouse.Claims
		args        []string
		wantChannel string
		wantMessage string
		wantReply   string
		auth        string
	}{
		{
			name:        "default channel and reply",
			options:     "{}",
			claims:      gatehouse.Claims{"sub": "alice"},
			args:        []string{`{"n": 12345678901234567890, "b": 1}`},
			wantChannel: "events",
			wantMessage: `{"namespace": "/chat", "event": "order", "data": {"n": 12345678901234567890, "b": 1}, "claims": {"sub": "alice"}, "socket_id": "sock-1"}`,
			wantReply:   `{"ok": true}`,
		},
		{
			name:        "own channel, no token, no payload",
			options:     `{channel: orders, reply: '{"queued": event}'}`,
			wantChannel: "orders",
			wantMessage: `{"namespace": "/chat", "event": "order", "data": null, "claims": {}, "socket_id": "sock-1"}`,
			wantReply:   `{"queued": "order"}`,
		},
		{
			name:        "on_connect: the auth payload as expressions see it",
			options:     "{}",
			auth:        `{"team": "red"}`,
			wantChannel: "events",
			wantMessage: `{"namespace": "/chat", "event": "order", "data": null, "claims": {}, "socket_id": "sock-1", "auth": {"team": "red"}}`,
			wantReply:   `{"ok": true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := sockFields()
			fields.Claims = tt.claims
			s := gatehousetest.NewRecorder(fields)
			publisher := &testPublisher{}
			call := callWith(s, "order", tt.args...)
			if tt.auth != "" {
				call.Auth = gatehouse.NewPayload(json.RawMessage(tt.auth))
			}
			got, err := buildWithHost(t, "publish", tt.options, publisherHost(publisher)).Handle(context.Background(), call)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.wantReply)
			if len(publisher.messages) != 1 || publisher.channels[0] != tt.wantChannel {
				t.Fatalf("published to %v, want one message to %q", publisher.channels, tt.wantChannel)
			}
			assertJSONText(t, "message", publisher.messages[0], tt.wantMessage)
		})
	}
}

func TestPublishFailures(t *testing.T) {
	t.Run("adapter error is upstream_error and keeps the cause", func(t *testing.T) {
		cause := errors.New("redis: connection refused")
		call := callWith(newTestSocket(), "order", `{}`)
		h := buildWithHost(t, "publish", "{}", publisherHost(&testPublisher{failWith: cause}))
		_, err := h.Handle(context.Background(), call)
		assertCode(t, err, gatehouse.CodeUpstreamError, "could not publish")
		if !errors.Is(err, cause) {
			t.Errorf("error = %v, want it to wrap the cause", err)
		}
		if coded := gatehouse.AsError(err); coded.Message != "could not publish the event" {
			t.Errorf("client message = %q leaks more than it should", coded.Message)
		}
	})
	t.Run("no adapter is an internal error", func(t *testing.T) {
		_, err := build(t, "publish", "{}").Handle(context.Background(), callWith(newTestSocket(), "order", `{}`))
		if err == nil || gatehouse.AsError(err).Code != gatehouse.CodeInternal {
			t.Fatalf("error = %v, want an internal error", err)
		}
	})
}

// assertJSONText compares JSON texts by value, keeping big numbers exact.
func assertJSONText(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	g, err := compactJSON(got)
	if err != nil {
		t.Fatalf("%s %s is not JSON: %v", what, got, err)
	}
	w, err := compactJSON([]byte(want))
	if err != nil {
		t.Fatalf("expected %s %s is not JSON: %v", what, want, err)
	}
	if g != w {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
