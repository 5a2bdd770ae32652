package guards

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

// testSocket is a gatehouse.Socket with fixed fields, standing in for the
// protocol's socket.
type testSocket struct {
	id     string
	ns     string
	rooms  []string
	claims gatehouse.Claims
	ip     string
}

func (s *testSocket) ID() string                { return s.id }
func (s *testSocket) Namespace() string         { return s.ns }
func (s *testSocket) Rooms() []string           { return slices.Clone(s.rooms) }
func (s *testSocket) InRoom(room string) bool   { return slices.Contains(s.rooms, room) }
func (s *testSocket) Claims() gatehouse.Claims  { return s.claims }
func (s *testSocket) RemoteIP() string          { return s.ip }
func (s *testSocket) Header(string) string      { return "" }
func (s *testSocket) Transport() string         { return "websocket" }
func (s *testSocket) Emit(string, ...any) error { return nil }
func (s *testSocket) Join(string) error         { return nil }
func (s *testSocket) EmitWithAck(context.Context, string, ...any) ([]json.RawMessage, error) {
	return nil, nil
}
func (s *testSocket) Leave(string) error                                   { return nil }
func (s *testSocket) Broadcast(context.Context, gatehouse.Broadcast) error { return nil }
func (s *testSocket) Disconnect(string)                                    {}

// alice is an authenticated member of room "dev".
func alice() *testSocket {
	return &testSocket{
		id: "sock-alice", ns: "/chat", rooms: []string{"dev"}, ip: "10.0.0.1",
		claims: gatehouse.Claims{"sub": "alice", "username": "Alice", "role": "admin", "tier": 2.0,
			"groups": []any{"eng", "ops"}, "scope": "chat:read chat:write"},
	}
}

// anonymous has no token.
func anonymous() *testSocket { return &testSocket{id: "sock-anon", ns: "/chat", ip: "10.0.0.2"} }

// eventInput is the input for an event with one JSON argument ("" for none).
func eventInput(s gatehouse.Socket, event, payload string) *Input {
	in := &Input{Socket: s, Namespace: "/chat", Event: event}
	if payload != "" {
		in.Payload = gatehouse.NewPayload(json.RawMessage(payload))
		in.Args = gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(payload)}}
	} else {
		in.Payload = gatehouse.NewPayload(nil)
	}
	return in
}

// configFile is where test options claim to be written.
func configFile(t testing.TB) string { return filepath.Join(t.TempDir(), "gateway.yaml") }

// build decodes src (the options, as written under the type name) and runs
// the registered factory of guardType.
func build(t testing.TB, guardType, src string) (Guard, error) {
	t.Helper()
	return buildIn(t, configFile(t), guardType, src)
}

func buildIn(t testing.TB, file, guardType, src string) (Guard, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("options: "+src+"\n"), &doc); err != nil {
		t.Fatalf("test YAML %q: %v", src, err)
	}
	node := doc.Content[0].Content[1]
	factory, ok := Lookup(guardType)
	if !ok {
		t.Fatalf("guard type %q is not registered", guardType)
	}
	return factory(config.NewOptions(node, config.Pos{File: file, Line: node.Line, Column: node.Column}))
}

func mustBuild(t testing.TB, guardType, src string) Guard {
	t.Helper()
	g, err := build(t, guardType, src)
	if err != nil {
		t.Fatalf("building %s guard from %s: %v", guardType, src, err)
	}
	return g
}

// checkResult compares a guard's answer with the expected code ("" for
// allowed) and message fragment.
func checkResult(t *testing.T, err error, wantCode gatehouse.Code, wantMsg string) *gatehouse.Error {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return nil
	}
	coded, ok := err.(*gatehouse.Error)
	if !ok {
		t.Fatalf("result = %v (%T), want a *gatehouse.Error with code %s", err, err, wantCode)
	}
	if coded.Code != wantCode || !strings.Contains(coded.Message, wantMsg) {
		t.Fatalf("denial = %s: %q, want %s containing %q", coded.Code, coded.Message, wantCode, wantMsg)
	}
	return coded
}

// wantConfigError checks a factory error: its text and that it is
// positioned at line:col of the options.
func wantConfigError(t *testing.T, err error, wantPos, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the guard was built, want an error containing %q", wantMsg)
	}
	msg := err.Error()
	if !strings.Contains(msg, wantMsg) {
		t.Fatalf("error %q does not contain %q", msg, wantMsg)
	}
	if wantPos != "" && !strings.Contains(msg, "gateway.yaml:"+wantPos+":") {
		t.Fatalf("error %q is not at gateway.yaml:%s", msg, wantPos)
	}
}
