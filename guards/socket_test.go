package guards

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/sockettest"
)

// alice is an authenticated member of room "dev".
func alice() *sockettest.Socket { return sockettest.New(aliceFields()) }

// aliceFields are alice's, for variations of her.
func aliceFields() sockettest.Fields {
	return sockettest.Fields{
		ID: "sock-alice", Namespace: "/chat", Rooms: []string{"dev"}, IP: "10.0.0.1",
		Claims: gatehouse.Claims{"sub": "alice", "username": "Alice", "role": "admin", "tier": 2.0,
			"groups": []any{"eng", "ops"}, "scope": "chat:read chat:write"},
	}
}

// anonymous has no token.
func anonymous() *sockettest.Socket { return sockettest.New(anonymousFields()) }

// anonymousFields are anonymous's, for variations.
func anonymousFields() sockettest.Fields {
	return sockettest.Fields{ID: "sock-anon", Namespace: "/chat", IP: "10.0.0.2"}
}

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
	return factory(gatewayconfig.NewOptions(node, config.Pos{File: file, Line: node.Line, Column: node.Column}))
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
