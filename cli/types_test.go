package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const typesConfig = `guards:
  body:
    schema: {type: object, required: [text], properties: {text: {type: string}}}
namespaces:
  /room:
    events:
      say:
        guards: [body]
        handler:
          broadcast: {event: said, data: '{"text": data.text}'}
`

func TestTypesPrintsTheNamespacesSocketTypes(t *testing.T) {
	path := writeConfig(t, typesConfig)
	code, stdout, stderr := runMain(t, context.Background(), "types", "--lang", "ts", "--config", path)
	if code != 0 {
		t.Fatalf("types = %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		`import type { Socket } from "socket.io-client";`,
		`say: (payload: Body, ack?: (reply: { ok: true } | ErrorReply) => void) => void;`,
		`said: (data: { text: string }) => void;`,
		`export type RoomSocket = Socket<RoomServerToClientEvents, RoomClientToServerEvents>;`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("want %s in:\n%s", want, stdout)
		}
	}
}

func TestTypesWritesTheFileNamedByO(t *testing.T) {
	path := writeConfig(t, typesConfig)
	out := filepath.Join(t.TempDir(), "gateway.ts")
	code, stdout, stderr := runMain(t, context.Background(), "types", "--config", path, "-o", out)
	if code != 0 || stdout != "" {
		t.Fatalf("types -o = %d %q, stderr:\n%s", code, stdout, stderr)
	}
	written, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(written), "RoomSocket") {
		t.Fatalf("types -o wrote %q (%v)", written, err)
	}
}

func TestTypesRefusesAnotherLanguageAndABrokenConfig(t *testing.T) {
	path := writeConfig(t, typesConfig)
	if code, _, stderr := runMain(t, context.Background(), "types", "--lang", "go", "--config", path); code != 2 || !strings.Contains(stderr, "only ts") {
		t.Errorf("types --lang go = %d, stderr %q; want 2 naming ts", code, stderr)
	}
	broken := writeConfig(t, strings.Replace(typesConfig, "broadcast:", "no_such_handler:", 1))
	code, stdout, stderr := runMain(t, context.Background(), "types", "--config", broken)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "no_such_handler") {
		t.Errorf("types on a config that does not build = %d %q, stderr %q; want 1, no output, the error", code, stdout, stderr)
	}
}
