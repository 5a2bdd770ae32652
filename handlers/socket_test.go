package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// testSocket is a gatehouse.Socket that records what handlers do to it.
type testSocket struct {
	id        string
	namespace string
	claims    gatehouse.Claims
	// ackWith and ackErr are what EmitWithAck answers.
	ackWith []json.RawMessage
	ackErr  error
	// failWith, when set, is returned by Emit, Join, Leave and Broadcast.
	failWith error
	// discard drops records, for benchmarks.
	discard bool

	mu         sync.Mutex
	rooms      map[string]bool
	emits      []emitted
	broadcasts []gatehouse.Broadcast
	joins      []string
	leaves     []string
}

// emitted is one recorded Emit.
type emitted struct {
	event string
	args  []any
}

func newTestSocket() *testSocket {
	return &testSocket{
		id:        "sock-1",
		namespace: "/chat",
		claims:    gatehouse.Claims{"sub": "alice", "username": "Alice"},
		rooms:     map[string]bool{},
	}
}

func (s *testSocket) ID() string                { return s.id }
func (s *testSocket) Namespace() string         { return s.namespace }
func (s *testSocket) Claims() gatehouse.Claims  { return s.claims }
func (s *testSocket) RemoteIP() string          { return "127.0.0.1" }
func (s *testSocket) Header(name string) string { return "" }
func (s *testSocket) Transport() string         { return "websocket" }
func (s *testSocket) Disconnect(reason string)  {}

func (s *testSocket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		rooms = append(rooms, r)
	}
	slices.Sort(rooms)
	return rooms
}

func (s *testSocket) InRoom(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[room]
}

func (s *testSocket) Emit(event string, args ...any) error {
	if s.failWith != nil {
		return s.failWith
	}
	if s.discard {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emits = append(s.emits, emitted{event: event, args: args})
	return nil
}

// EmitWithAck records the emit and answers with ackWith, or fails with
// ackErr.
func (s *testSocket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	if err := s.Emit(event, args...); err != nil {
		return nil, err
	}
	if s.ackErr != nil {
		return nil, s.ackErr
	}
	return s.ackWith, nil
}

func (s *testSocket) Join(room string) error {
	if s.failWith != nil {
		return s.failWith
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[room] = true
	s.joins = append(s.joins, room)
	return nil
}

func (s *testSocket) Leave(room string) error {
	if s.failWith != nil {
		return s.failWith
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms, room)
	s.leaves = append(s.leaves, room)
	return nil
}

func (s *testSocket) Broadcast(ctx context.Context, msg gatehouse.Broadcast) error {
	if s.failWith != nil {
		return s.failWith
	}
	if s.discard {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcasts = append(s.broadcasts, msg)
	return nil
}

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
func callWith(s *testSocket, event string, args ...string) *Call {
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	call := &Call{Socket: s, Event: event, Args: gatehouse.Args{Raw: raw}}
	call.Payload = gatehouse.NewPayload(call.Args.First())
	return call
}

// optionsFrom parses YAML options as the config loader hands them to a
// factory, positioned in "gateway.yaml".
func optionsFrom(t testing.TB, src string) config.Options {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("test options do not parse: %v", err)
	}
	if len(doc.Content) == 0 {
		return gatewayconfig.NewOptions(nil, config.Pos{File: "gateway.yaml", Line: 1, Column: 1})
	}
	n := doc.Content[0]
	return gatewayconfig.NewOptions(n, config.Pos{File: "gateway.yaml", Line: n.Line, Column: n.Column})
}

// build makes a handler of a registered type from YAML options.
func build(t testing.TB, handlerType, src string) Handler {
	t.Helper()
	h, err := tryBuild(t, handlerType, src)
	if err != nil {
		t.Fatalf("%s handler from %q: %v", handlerType, src, err)
	}
	return h
}

// buildWithHost makes a handler of a registered type from YAML options,
// given host.
func buildWithHost(t testing.TB, handlerType, src string, host gatehouse.Host) Handler {
	t.Helper()
	factory, ok := Lookup(handlerType)
	if !ok {
		t.Fatalf("handler type %q is not registered", handlerType)
	}
	h, err := factory(optionsFrom(t, src).WithHost(host))
	if err != nil {
		t.Fatalf("%s handler from %q: %v", handlerType, src, err)
	}
	return h
}

// publisherHost is a host whose adapter is p.
func publisherHost(p *testPublisher) gatehouse.Host {
	return gatehouse.NewHost(gatehouse.HostOptions{Publisher: p})
}

func tryBuild(t testing.TB, handlerType, src string) (Handler, error) {
	t.Helper()
	factory, ok := Lookup(handlerType)
	if !ok {
		t.Fatalf("handler type %q is not registered", handlerType)
	}
	return factory(optionsFrom(t, src))
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
