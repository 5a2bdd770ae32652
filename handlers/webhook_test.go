package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// maxWebhookAnswer is the largest backend answer a webhook reads, 1 MiB;
// a larger one is an upstream_error.
const maxWebhookAnswer = 1 << 20

// backendRequest is what the test backend received.
type backendRequest struct {
	method        string
	contentType   string
	authorization string
	body          string
}

// startBackend runs a real HTTP backend on 127.0.0.1 that records each
// request and answers with answer.
func startBackend(t *testing.T, answer http.HandlerFunc) (url string, requests <-chan backendRequest) {
	t.Helper()
	received := make(chan backendRequest, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- backendRequest{
			method:        r.Method,
			contentType:   r.Header.Get("Content-Type"),
			authorization: r.Header.Get("Authorization"),
			body:          string(body),
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/events", received
}

// answerJSON answers with status and body as JSON.
func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func webhookOptionsFor(url string, extra string) string {
	return fmt.Sprintf("{url: %q%s}", url, extra)
}

func TestWebhookPostsTheEventAndAcksWithTheAnswer(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		extra     string
		wantReply string
	}{
		{"object answer is the ack", `{"total": 12.5, "items": [1, 2]}`, "", `{"total": 12.5, "items": [1, 2]}`},
		{"array answer is the ack", `[1, 2, 3]`, "", `[1, 2, 3]`},
		{"reply field is the ack", `{"reply": {"accepted": true}, "trace": "x"}`, "", `{"accepted": true}`},
		{"reply option overrides the answer", `{"ignored": true}`, `, reply: '{"via": event}'`, `{"via": "order"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, requests := startBackend(t, answerJSON(http.StatusOK, tt.answer))
			h := build(t, "webhook", webhookOptionsFor(url, `, headers: {Authorization: "Bearer s3cret"}`+tt.extra))
			s := newTestSocket()
			got, err := h.Handle(context.Background(), callWith(s, "order", `{"item": "tea", "qty": 2}`))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.wantReply)

			req := <-requests
			if req.method != http.MethodPost || req.contentType != "application/json" || req.authorization != "Bearer s3cret" {
				t.Errorf("request = %s, Content-Type %q, Authorization %q; want POST, application/json, the configured header",
					req.method, req.contentType, req.authorization)
			}
			assertJSONText(t, "request body", []byte(req.body),
				`{"namespace": "/chat", "event": "order", "data": {"item": "tea", "qty": 2}, "claims": {"sub": "alice", "username": "Alice"}, "socket_id": "sock-1"}`)
			if len(s.Emits())+len(s.Broadcasts())+len(s.Joins())+len(s.Leaves()) != 0 {
				t.Errorf("socket was acted on without actions in the answer")
			}
		})
	}
}

func TestWebhookEmptyAnswerAcksWithoutArgument(t *testing.T) {
	url, _ := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	got, err := build(t, "webhook", webhookOptionsFor(url, "")).Handle(context.Background(), callWith(newTestSocket(), "order", `{}`))
	if err != nil || got != nil {
		t.Fatalf("Handle = %#v, %v; want no ack argument and no error", got, err)
	}
}

func TestWebhookPerformsTheActionsOfTheAnswer(t *testing.T) {
	answer := `{
		"reply": {"order": 7},
		"actions": [
			{"type": "join", "room": "order-7"},
			{"type": "emit", "event": "order:accepted", "data": {"id": 7}},
			{"type": "broadcast", "event": "order:new", "data": {"id": 7}, "room": "kitchen"},
			{"type": "broadcast", "event": "stats"},
			{"type": "leave", "room": "cart"}
		]}`
	url, _ := startBackend(t, answerJSON(http.StatusOK, answer))
	fields := sockFields()
	fields.Rooms = []string{"cart"}
	s := gatehousetest.NewRecorder(fields)
	got, err := build(t, "webhook", webhookOptionsFor(url, "")).Handle(context.Background(), callWith(s, "order", `{}`))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	assertJSON(t, "reply", got, `{"order": 7}`)
	if !reflect.DeepEqual(s.Joins(), []string{"order-7"}) || !reflect.DeepEqual(s.Leaves(), []string{"cart"}) {
		t.Errorf("joins %v, leaves %v; want [order-7], [cart]", s.Joins(), s.Leaves())
	}
	if len(s.Emits()) != 1 || s.Emits()[0].Event != "order:accepted" || !reflect.DeepEqual(rawArgs(t, s.Emits()[0].Args), []string{`{"id":7}`}) {
		t.Errorf("emits = %#v, want order:accepted {\"id\":7}", s.Emits())
	}
	if len(s.Broadcasts()) != 2 {
		t.Fatalf("broadcasts = %#v, want 2", s.Broadcasts())
	}
	first, second := s.Broadcasts()[0], s.Broadcasts()[1]
	if first.Event != "order:new" || !reflect.DeepEqual(first.Rooms, []string{"kitchen"}) || first.ExceptSender ||
		!reflect.DeepEqual(rawArgs(t, first.Args), []string{`{"id":7}`}) {
		t.Errorf("first broadcast = %#v, want order:new to kitchen with {\"id\":7}", first)
	}
	if second.Event != "stats" || second.Rooms != nil || len(second.Args) != 0 {
		t.Errorf("second broadcast = %#v, want stats to the namespace without arguments", second)
	}
}

func TestWebhookActionsWithoutReplyAckOK(t *testing.T) {
	url, _ := startBackend(t, answerJSON(http.StatusOK, `{"actions": [{"type": "emit", "event": "hi"}]}`))
	s := newTestSocket()
	got, err := build(t, "webhook", webhookOptionsFor(url, "")).Handle(context.Background(), callWith(s, "order", `{}`))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	assertJSON(t, "reply", got, `{"ok": true}`)
	if len(s.Emits()) != 1 || len(s.Emits()[0].Args) != 0 {
		t.Errorf("emits = %#v, want hi without arguments", s.Emits())
	}
}

func TestWebhookFailuresAreUpstreamErrors(t *testing.T) {
	closedURL := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/events"
	}
	slowBackend := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	tests := []struct {
		name        string
		backend     http.HandlerFunc // nil: nothing listens
		extra       string
		wantCode    gatehouse.Code
		wantMessage string
		notInMsg    string
	}{
		{"slow backend", slowBackend, ", timeout: 50ms", gatehouse.CodeUpstreamTimeout, "did not answer within 50ms", ""},
		{"backend down", nil, "", gatehouse.CodeUpstreamError, "unreachable", ""},
		{"garbage body", answerJSON(http.StatusOK, "<html>oops</html>"), "", gatehouse.CodeUpstreamError, "not JSON", ""},
		{"truncated JSON", answerJSON(http.StatusOK, `{"reply": `), "", gatehouse.CodeUpstreamError, "not JSON", ""},
		{"server error", answerJSON(http.StatusInternalServerError, `{"stack": "secret trace"}`), "", gatehouse.CodeUpstreamError, "500 Internal Server Error", "secret"},
		{"client error", answerJSON(http.StatusForbidden, `no`), "", gatehouse.CodeUpstreamError, "403", ""},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "", gatehouse.CodeUpstreamError, "302", ""},
		{"oversized body", answerJSON(http.StatusOK, `"`+strings.Repeat("a", maxWebhookAnswer)+`"`), "", gatehouse.CodeUpstreamError, "larger than 1048576 bytes", ""},
		{"unknown action", answerJSON(http.StatusOK, `{"actions": [{"type": "join", "room": "a"}, {"type": "kick"}]}`), "", gatehouse.CodeUpstreamError, `action 1: unknown type "kick"`, ""},
		{"action without event", answerJSON(http.StatusOK, `{"actions": [{"type": "emit"}]}`), "", gatehouse.CodeUpstreamError, "emit needs an event", ""},
		{"action without room", answerJSON(http.StatusOK, `{"actions": [{"type": "leave"}]}`), "", gatehouse.CodeUpstreamError, "leave needs a room", ""},
		{"actions not an array", answerJSON(http.StatusOK, `{"actions": {"type": "emit"}}`), "", gatehouse.CodeUpstreamError, "actions must be an array", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := closedURL(t)
			if tt.backend != nil {
				url, _ = startBackend(t, tt.backend)
			}
			s := newTestSocket()
			h := build(t, "webhook", webhookOptionsFor(url, tt.extra))
			_, err := h.Handle(context.Background(), callWith(s, "order", `{"item": "tea"}`))
			assertCode(t, err, tt.wantCode, tt.wantMessage)
			if tt.notInMsg != "" && strings.Contains(gatehouse.AsError(err).Message, tt.notInMsg) {
				t.Errorf("client message %q leaks %q", gatehouse.AsError(err).Message, tt.notInMsg)
			}
			if len(s.Emits())+len(s.Broadcasts())+len(s.Joins())+len(s.Leaves()) != 0 {
				t.Errorf("a failed call acted on the socket")
			}
		})
	}
}

func TestWebhookAcceptsAnAnswerOfExactlyTheLimit(t *testing.T) {
	answer := `"` + strings.Repeat("a", maxWebhookAnswer-2) + `"`
	url, _ := startBackend(t, answerJSON(http.StatusOK, answer))
	got, err := build(t, "webhook", webhookOptionsFor(url, "")).Handle(context.Background(), callWith(newTestSocket(), "order", `{}`))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	raw, ok := got.(json.RawMessage)
	if !ok || len(raw) != maxWebhookAnswer {
		t.Errorf("ack is %T of %d bytes, want the %d-byte answer", got, len(raw), maxWebhookAnswer)
	}
}

func TestWebhookCallerDeadlineIsATimeout(t *testing.T) {
	url, _ := startBackend(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := build(t, "webhook", webhookOptionsFor(url, ", timeout: 1m")).Handle(ctx, callWith(newTestSocket(), "order", `{}`))
	assertCode(t, err, gatehouse.CodeUpstreamTimeout, "did not answer")
}

func TestWebhookCallerCancelIsNotReportedAsUnreachable(t *testing.T) {
	started := make(chan struct{})
	url, _ := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := build(t, "webhook", webhookOptionsFor(url, "")).Handle(ctx, callWith(newTestSocket(), "order", `{}`))
	assertCode(t, err, gatehouse.CodeUpstreamError, "canceled")
}
