package tsgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// load writes yaml as a gateway.yaml (and files beside it) and loads it.
func load(t *testing.T, yaml string, files map[string]string) *gatewayconfig.Config {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := gatewayconfig.Load(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

// generate returns the types of a config with one guard "body" holding
// schema and one event "ev" guarded by it and handled by handler.
func generate(t *testing.T, schema, handler string, files map[string]string) string {
	t.Helper()
	guards := ""
	refs := "[]"
	if schema != "" {
		guards = "guards:\n  body:\n    schema: " + schema + "\n"
		refs = "[body]"
	}
	yaml := guards + "namespaces:\n  /:\n    events:\n      ev:\n        guards: " + refs + "\n        handler: " + handler + "\n"
	out, err := Generate(load(t, yaml, files))
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return string(out)
}

func TestSchemaGuardsBecomePayloadTypes(t *testing.T) {
	for _, tc := range []struct {
		name, schema, want string
	}{
		{"required and optional properties", `{type: object, required: [a], properties: {a: {type: string}, b: {type: integer}}}`,
			`export type Body = { a: string; b?: number; [key: string]: unknown };`},
		{"closed object", `{type: object, additionalProperties: false, properties: {a: {type: boolean}}}`,
			`export type Body = { a?: boolean };`},
		{"map of one type", `{type: object, additionalProperties: {type: number}}`,
			`export type Body = { [key: string]: number };`},
		{"extra properties admit the named ones' types", `{type: object, properties: {a: {type: string}}, additionalProperties: {type: number}}`,
			`export type Body = { a?: string; [key: string]: number | string };`},
		{"array of a union", `{type: array, items: {type: [string, "null"]}}`, `export type Body = (string | null)[];`},
		{"tuple", `{type: array, prefixItems: [{type: string}, {type: number}], items: false}`, `export type Body = [string, number];`},
		{"enum", `{enum: [red, 2, null]}`, `export type Body = "red" | 2 | null;`},
		{"const", `{const: fixed}`, `export type Body = "fixed";`},
		{"object const", `{const: {a: [1]}}`, `export type Body = {"a":[1]};`},
		{"properties in the order written", `{type: object, properties: {z: {type: string}, a: {type: string}}}`,
			`export type Body = { z?: string; a?: string; [key: string]: unknown };`},
		{"oneOf", `{oneOf: [{type: string}, {type: object, required: [k], properties: {k: {const: 1}}}]}`,
			`export type Body = string | { k: 1; [key: string]: unknown };`},
		{"allOf", `{allOf: [{type: object, properties: {a: {type: string}}}, {type: object, properties: {b: {type: string}}}]}`,
			`export type Body = { a?: string; [key: string]: unknown } & { b?: string; [key: string]: unknown };`},
		{"$defs become named types", `{type: object, properties: {p: {$ref: "#/$defs/point"}, q: {$ref: "#/$defs/point"}}, $defs: {point: {type: object, required: [x], properties: {x: {type: number}}}}}`,
			"export type BodyPoint = { x: number; [key: string]: unknown };\n\nexport type Body = { p?: BodyPoint; q?: BodyPoint; [key: string]: unknown };"},
		{"recursive $ref", `{type: object, properties: {child: {$ref: "#"}}}`,
			`export type Body = { child?: Body; [key: string]: unknown };`},
		{"quoted property names", `{type: object, properties: {"a-b": {type: string}}}`,
			`export type Body = { "a-b"?: string; [key: string]: unknown };`},
		{"anything", `{}`, `export type Body = unknown;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := generate(t, tc.schema, "{reply: {value: 'true'}}", nil)
			if !strings.Contains(got, tc.want+"\n") {
				t.Errorf("want %s in:\n%s", tc.want, got)
			}
			if !strings.Contains(got, "ev: (payload: Body, ") {
				t.Errorf("event ev does not take Body:\n%s", got)
			}
		})
	}
}

func TestSchemaGuardFromFile(t *testing.T) {
	got := generate(t, `{file: body.json}`, "{reply: {value: 'data.n'}}", map[string]string{
		"body.json": `{"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}, "b": {"type": "string"}}}`,
	})
	for _, want := range []string{
		"export type Body = { n: number; b?: string; [key: string]: unknown };",
		"ev: (payload: Body, ack?: (reply: number | ErrorReply) => void) => void;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s in:\n%s", want, got)
		}
	}
}

func TestAckTypesFollowTheHandlersReplies(t *testing.T) {
	const schema = `{type: object, required: [room], properties: {room: {type: string}, n: {type: number}}}`
	for _, tc := range []struct {
		name, handler, want string
	}{
		{"literal map", `{reply: {value: '{"ok": true, "n": 2}'}}`, `(reply: { ok: true; n: 2 } | ErrorReply)`},
		{"payload field", `{reply: {value: '{"room": data.room}'}}`, `(reply: { room: string } | ErrorReply)`},
		{"static CEL type", `{reply: {value: 'size(data.room) + 1'}}`, `(reply: number | ErrorReply)`},
		{"string concatenation", `{reply: {value: '"room " + data.room'}}`, `(reply: string | ErrorReply)`},
		{"claims", `{reply: {value: user}}`, `(reply: Claims | ErrorReply)`},
		{"dyn", `{reply: {value: 'data.missing'}}`, `(reply: unknown)`},
		{"several arguments", `{reply: {args: '[1, 2]'}}`, `(...reply: unknown[])`},
		{"join's default", `{join: {room: data.room}}`, `(reply: { ok: true; room: string } | ErrorReply)`},
		{"broadcast's default", `{broadcast: {event: e}}`, `(reply: { ok: true } | ErrorReply)`},
		{"emit without reply acks no argument", `{emit: {event: e}}`, `(reply: undefined | ErrorReply)`},
		{"webhook answers what the backend says", `{webhook: {url: "http://127.0.0.1:1/x"}}`, `(reply: unknown)`},
		{"plugin handler", `{custom_plugin: {}}`, `(reply: unknown)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := generate(t, schema, tc.handler, nil)
			want := "ev: (payload: Body, ack?: " + tc.want + " => void) => void;"
			if !strings.Contains(got, want) {
				t.Errorf("want %s in:\n%s", want, got)
			}
		})
	}
}

func TestServerEventsCarryTheirDataTypes(t *testing.T) {
	yaml := `guards:
  body:
    schema: {type: object, required: [text], properties: {text: {type: string}}}
namespaces:
  /room:
    on_connect:
      - emit: {event: hello, data: '{"id": socket.id}'}
    events:
      say:
        guards: [body]
        handler:
          broadcast: {event: said, data: '{"text": data.text, "by": user.sub}'}
      echo:
        guards: [body]
        handler:
          emit: {event: said}
      ask:
        handler:
          emit: {event: question, data: '"why?"', await_ack: true}
`
	out, err := Generate(load(t, yaml, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		`hello: (data: { id: string }) => void;`,
		`said: (data: { text: string; by: string } | Body) => void;`,
		`question: (data: "why?", ack: (answer: unknown) => void) => void;`,
		`exception: (error: Exception) => void;`,
		`export type RoomSocket = Socket<RoomServerToClientEvents, RoomClientToServerEvents>;`,
		"export interface RoomAcks {\n  say: { ok: true } | ErrorReply;\n  echo: undefined | ErrorReply;\n  ask: unknown;\n}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s in:\n%s", want, got)
		}
	}
	// Without auth.jwt there is no token to refresh or expire.
	for _, absent := range []string{"auth:refresh", "auth:expiring"} {
		if strings.Contains(got, absent) {
			t.Errorf("%s declared without auth.jwt:\n%s", absent, got)
		}
	}
}

func TestTypeNamesDoNotCollide(t *testing.T) {
	yaml := `guards:
  chat_socket:
    schema: {type: string}
namespaces:
  /chat:
    events:
      a: {guards: [chat_socket], handler: {reply: {value: data}}}
  /Chat:
    events:
      b: {handler: {reply: {value: data}}}
`
	out, err := Generate(load(t, yaml, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"export type ChatSocket2 = string;",
		"a: (payload: ChatSocket2, ack?: (reply: ChatSocket2 | ErrorReply) => void) => void;",
		"export type ChatSocket = Socket<ChatServerToClientEvents, ChatClientToServerEvents>;",
		"export type Chat2Socket = Socket<Chat2ServerToClientEvents, Chat2ClientToServerEvents>;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s in:\n%s", want, got)
		}
	}
}
