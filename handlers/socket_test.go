package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

// sockFields are the fields of the socket the tests call handlers on: sock-1
// of alice in /chat.
func sockFields() gatehousetest.SocketFields {
	return gatehousetest.SocketFields{
		ID: "sock-1", Namespace: "/chat", IP: "127.0.0.1",
		Claims: gatehouse.Claims{"sub": "alice", "username": "Alice"},
	}
}

// newTestSocket is a socket that records what handlers do to it.
func newTestSocket() *gatehousetest.Recorder { return gatehousetest.NewRecorder(sockFields()) }

// testPublisher records what the publish handler hands to the adapter.
type testPublisher struct {
	failWith error
	mu       sync.Mutex
	channels []string
	messages [][]byte
}

func (p *testPublisher) Publish(ctx context.Context, channel string, message []byte) error {
	if p.failWith != nil {
		return p.failWith
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.channels = append(p.channels, channel)
	p.messages = append(p.messages, message)
	return nil
}

// callWith builds a call of event on s whose arguments are the given JSON
// texts.
func callWith(s gatehouse.Socket, event string, args ...string) *handlers.Call {
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	call := &handlers.Call{Socket: s, Event: event, Args: gatehouse.Args{Raw: raw}}
	call.Payload = gatehouse.NewPayload(call.Args.First())
	return call
}

// asWritten declares options as a handler's are written under its type: a
// block of their own, positioned from gateway.yaml:1:1, given host (nil: a
// test host).
func asWritten(host gatehouse.Host) gatehousetest.Decl {
	return gatehousetest.Decl{Document: true, Host: host}
}

// build makes a handler of a registered type from YAML options.
func build(t testing.TB, handlerType, src string) handlers.Handler {
	t.Helper()
	return asWritten(nil).Handler(t, handlerType, src)
}

// buildWithHost makes a handler of a registered type from YAML options,
// given host.
func buildWithHost(t testing.TB, handlerType, src string, host gatehouse.Host) handlers.Handler {
	t.Helper()
	return asWritten(host).Handler(t, handlerType, src)
}

// publisherHost is a host whose adapter is p.
func publisherHost(p *testPublisher) gatehouse.Host {
	return gatehouse.NewHost(gatehouse.HostOptions{Publisher: p})
}

func tryBuild(t testing.TB, handlerType, src string) (handlers.Handler, error) {
	t.Helper()
	return asWritten(nil).BuildHandler(t, handlerType, src)
}

// assertJSON fails unless got encodes to the same JSON as want.
func assertJSON(t testing.TB, what string, got any, want string) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: %#v does not encode: %v", what, got, err)
	}
	var wantValue any
	if err := json.Unmarshal([]byte(want), &wantValue); err != nil {
		t.Fatalf("%s: expected JSON %q does not parse: %v", what, want, err)
	}
	wantJSON, _ := json.Marshal(wantValue)
	var gotValue any
	_ = json.Unmarshal(gotJSON, &gotValue)
	gotJSON, _ = json.Marshal(gotValue)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("%s = %s, want %s", what, gotJSON, wantJSON)
	}
}

// assertCode fails unless err carries code and a message containing
// wantMessage.
func assertCode(t testing.TB, err error, code gatehouse.Code, wantMessage string) {
	t.Helper()
	var coded *gatehouse.Error
	if !errors.As(err, &coded) {
		t.Fatalf("error = %v, want a %s error", err, code)
	}
	if coded.Code != code {
		t.Errorf("code = %s (%v), want %s", coded.Code, err, code)
	}
	if !strings.Contains(coded.Message, wantMessage) {
		t.Errorf("message = %q, want it to contain %q", coded.Message, wantMessage)
	}
}

// compactJSON re-encodes JSON text with sorted keys and numbers kept as
// written, so that two texts compare by value.
func compactJSON(text []byte) (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(text)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}
