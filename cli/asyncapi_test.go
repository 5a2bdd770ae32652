package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asyncapiConfig sends a room's message from an event whose payload has a
// schema, and requires a token for its namespace.
const asyncapiConfig = `auth:
  jwt:
    secret: ${CLI_ASYNCAPI_SECRET:-asyncapi-test-secret-value}
    algorithms: [HS256]
guards:
  body:
    schema: {type: object, required: [room, text], properties: {room: {type: string}, text: {type: string}}}
namespaces:
  /room:
    events:
      say:
        guards: [body]
        handler:
          broadcast: {event: said, to: data.room, data: '{"text": data.text}'}
`

// document runs asyncapi on config and decodes what it prints.
func document(t *testing.T, config string) map[string]any {
	t.Helper()
	code, stdout, stderr := runMain(t, context.Background(), "asyncapi", "--config", writeConfig(t, config))
	if code != 0 {
		t.Fatalf("asyncapi = %d, stderr:\n%s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("asyncapi printed no JSON: %v\n%s", err, stdout)
	}
	return doc
}

// at follows the keys of path in v.
func at(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func TestAsyncAPIPrintsTheNamespacesEventsAndRooms(t *testing.T) {
	doc := document(t, asyncapiConfig)
	if doc["asyncapi"] != "3.0.0" {
		t.Errorf("asyncapi = %v, want 3.0.0", doc["asyncapi"])
	}
	if got := at(doc, "channels", "room", "address"); got != "/room" {
		t.Errorf("the namespace's channel has address %v", got)
	}
	if got := at(doc, "channels", "room", "messages", "say", "payload", "$ref"); got != "#/components/schemas/body" {
		t.Errorf("say's payload is %v, want the body guard's schema", got)
	}
	if got := at(doc, "components", "schemas", "body", "required"); len(got.([]any)) != 2 {
		t.Errorf("the body schema is not the guard's: required %v", got)
	}
	said := at(doc, "channels", "room.rooms", "messages", "said", "payload")
	if at(said, "properties", "text", "type") != "string" || at(said, "additionalProperties") != false {
		t.Errorf("said, sent to a room, has payload %v; want {text: string} on the rooms' channel", said)
	}
	if at(doc, "operations", "room.say", "action") != "receive" || at(doc, "operations", "room.rooms.said", "action") != "send" {
		t.Errorf("operations: %v", at(doc, "operations"))
	}
	if sec, _ := at(doc, "operations", "room.say", "security").([]any); len(sec) == 0 {
		t.Error("say needs a token (auth defaults to required), but its operation names no security scheme")
	}
}

func TestAsyncAPINeverShowsTheSecret(t *testing.T) {
	t.Setenv("CLI_ASYNCAPI_SECRET", "do-not-print-this-secret")
	code, stdout, stderr := runMain(t, context.Background(), "asyncapi", "--config", writeConfig(t, asyncapiConfig))
	if code != 0 || strings.Contains(stdout+stderr, "do-not-print-this-secret") {
		t.Errorf("asyncapi = %d and shows the secret or fails:\n%s%s", code, stdout, stderr)
	}
}

func TestAsyncAPIWritesTheFileNamedByO(t *testing.T) {
	out := filepath.Join(t.TempDir(), "asyncapi.json")
	code, stdout, stderr := runMain(t, context.Background(), "asyncapi", "--config", writeConfig(t, asyncapiConfig), "-o", out)
	if code != 0 || stdout != "" {
		t.Fatalf("asyncapi -o = %d %q, stderr:\n%s", code, stdout, stderr)
	}
	written, err := os.ReadFile(out)
	if err != nil || !json.Valid(written) {
		t.Fatalf("asyncapi -o wrote %q (%v)", written, err)
	}
}

func TestAsyncAPIRefusesAStrayArgumentAndABrokenConfig(t *testing.T) {
	path := writeConfig(t, asyncapiConfig)
	if code, _, stderr := runMain(t, context.Background(), "asyncapi", "--config", path, "extra"); code != 2 || !strings.Contains(stderr, "extra") {
		t.Errorf("asyncapi extra = %d, stderr %q; want 2 naming the argument", code, stderr)
	}
	broken := writeConfig(t, strings.Replace(asyncapiConfig, "broadcast:", "no_such_handler:", 1))
	code, stdout, stderr := runMain(t, context.Background(), "asyncapi", "--config", broken)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "no_such_handler") || !strings.Contains(stderr, ":14:") {
		t.Errorf("asyncapi on a config that does not build = %d %q, stderr %q; want 1, no output, the error at its line", code, stdout, stderr)
	}
}
