package guards_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// messageSchema is the message_body guard of the default gateway.yaml.
const messageSchema = `{type: object, required: [message], properties: {message: {type: string, minLength: 1, maxLength: 2000}}}`

func TestSchemaGuard(t *testing.T) {
	tests := []struct {
		name     string
		payload  string
		wantCode gatehouse.Code
		wantMsg  string
	}{
		{"valid message", `{"message":"hello"}`, "", ""},
		{"extra fields are fine", `{"message":"hello","mood":"happy"}`, "", ""},
		{"2000 characters", `{"message":"` + strings.Repeat("é", 2000) + `"}`, "", ""},
		{"missing message", `{"text":"hello"}`, gatehouse.CodeInvalidPayload, "/message: is required"},
		{"empty message", `{"message":""}`, gatehouse.CodeInvalidPayload, "/message: must be at least 1 characters, got 0"},
		{"too long", `{"message":"` + strings.Repeat("a", 2001) + `"}`, gatehouse.CodeInvalidPayload, "/message: must be at most 2000 characters, got 2001"},
		{"wrong type", `{"message":42}`, gatehouse.CodeInvalidPayload, "/message: must be string, got number"},
		{"not an object", `"hello"`, gatehouse.CodeInvalidPayload, "/: must be object, got string"},
		{"no payload", "", gatehouse.CodeInvalidPayload, "/: must be object, got null"},
		{"not JSON", `{"message":`, gatehouse.CodeInvalidPayload, "not valid JSON"},
	}
	g := gatehousetest.Guard(t, "schema", messageSchema)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResult(t, g.Check(context.Background(), gatehousetest.Input(alice(), "sendMessage", tt.payload)), tt.wantCode, tt.wantMsg)
		})
	}
}

func TestSchemaGuardMessages(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		payload string
		wantMsg string
	}{
		{"nested location", `{type: object, properties: {room: {type: object, properties: {name: {type: string}}}}}`,
			`{"room":{"name":7}}`, "/room/name: must be string, got number"},
		{"array item", `{type: array, items: {type: integer}}`, `[1, 2, "x"]`, "/2: must be integer, got string"},
		{"additional properties", `{type: object, additionalProperties: false, properties: {a: {}}}`,
			`{"a":1,"b":2}`, "/: unexpected properties b"},
		{"enum", `{enum: [red, green]}`, `"blue"`, "/: value must be one of"},
		{"maximum", `{type: number, maximum: 10}`, `11`, "/: maximum: got 11, want 10"},
		{"pointer escaping", `{type: object, properties: {"a/b": {type: string}}}`, `{"a/b":1}`, "/a~1b: must be string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatehousetest.Guard(t, "schema", tt.schema)
			checkResult(t, g.Check(context.Background(), gatehousetest.Input(alice(), "e", tt.payload)), gatehouse.CodeInvalidPayload, tt.wantMsg)
		})
	}
}

func TestSchemaGuardFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("schemas/room.json", `{"type":"object","required":["room"],"properties":{"room":{"$ref":"name.yaml"}}}`)
	write("schemas/name.yaml", "type: string\nminLength: 1\nmaxLength: 5\n")
	write("schemas/broken.json", `{"type": 12}`)
	// The options claim to be written in gateway.yaml next to schemas/.
	decl := gatehousetest.Decl{File: filepath.Join(dir, "gateway.yaml")}

	g, err := decl.BuildGuard(t, "schema", "{file: schemas/room.json}")
	if err != nil {
		t.Fatalf("building from a file: %v", err)
	}
	ctx := context.Background()
	checkResult(t, g.Check(ctx, gatehousetest.Input(alice(), "join", `{"room":"dev"}`)), "", "")
	checkResult(t, g.Check(ctx, gatehousetest.Input(alice(), "join", `{"room":"develop"}`)), gatehouse.CodeInvalidPayload, "/room: must be at most 5 characters")

	// An inline schema may $ref a file next to gateway.yaml.
	g, err = decl.BuildGuard(t, "schema", "{type: object, properties: {room: {$ref: 'schemas/name.yaml'}}}")
	if err != nil {
		t.Fatalf("inline schema with a file $ref: %v", err)
	}
	checkResult(t, g.Check(ctx, gatehousetest.Input(alice(), "join", `{"room":""}`)), gatehouse.CodeInvalidPayload, "/room: must be at least 1 characters")

	_, err = decl.BuildGuard(t, "schema", "{file: schemas/missing.json}")
	wantConfigError(t, err, "1:17", "no such file")
	_, err = decl.BuildGuard(t, "schema", "{file: schemas/broken.json}")
	wantConfigError(t, err, "1:10", "schema:")
}

func TestSchemaGuardRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		pos     string
		msg     string
	}{
		{"not a mapping", "[a, b]", "1:10", "expected a JSON Schema as a mapping"},
		{"invalid keyword value", "{type: object, minProperties: -1}", "1:40", "schema: invalid schema at /minProperties: minimum: got -1, want 0"},
		{"unknown type", "{type: object, properties: {a: {type: objekt}}}", "1:48", "schema: invalid schema at /properties/a/type: value must be one of"},
		{"remote reference", "{$ref: 'https://example.com/s.json'}", "1:10", "schemas load from files only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, "schema", tt.options)
			wantConfigError(t, err, tt.pos, tt.msg)
		})
	}
}

func BenchmarkGuard_schema(b *testing.B) {
	g := gatehousetest.Guard(b, "schema", messageSchema)
	in := gatehousetest.Input(alice(), "sendMessage", `{"message":"hello there"}`)
	if _, err := in.Payload.Data(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
