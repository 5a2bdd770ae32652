package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

const explainConfig = `auth:
  jwt:
    secret: ${CLI_EXPLAIN_SECRET:-explain-test-secret-value}
    algorithms: [HS256]
guards:
  small:
    max_size: 1KB
namespaces:
  /chat:
    events:
      whoami:
        handler:
          reply: {value: user}
      say:
        guards: [small]
        handler:
          broadcast: {event: said, data: data}
  /admin:
    auth: none
    events:
      ping:
        handler:
          reply: {value: '"pong"'}
`

func TestExplainCommand(t *testing.T) {
	path := writeConfig(t, explainConfig)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stdout (or stderr when the code is not 0)
		notWant  []string
	}{
		{"every namespace as text", []string{"--config", path}, 0,
			[]string{"namespace /chat (auth: required)", "namespace /admin (auth: none)", "guard small (max_size)", "-> payload_too_large", "secret ******"},
			[]string{"explain-test-secret-value"}},
		{"one namespace", []string{"--config", path, "/admin"}, 0,
			[]string{"namespace /admin", "event ping"}, []string{"namespace /chat"}},
		{"one event, flags after it", []string{"/chat", "say", "--config", path}, 0,
			[]string{"event say"}, []string{"event whoami", "namespace /admin"}},
		{"unknown namespace", []string{"--config", path, "/chta"}, 1,
			[]string{`did you mean "/chat"`}, nil},
		{"unknown event", []string{"--config", path, "/chat", "sya"}, 1,
			[]string{`did you mean "say"`}, nil},
		{"bad format", []string{"--config", path, "--format", "yaml"}, 2,
			[]string{"--format: expected text or json"}, nil},
		{"too many arguments", []string{"--config", path, "/chat", "say", "extra"}, 2,
			[]string{`unexpected argument "extra"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, context.Background(), append([]string{"explain"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			out := stdout
			if tt.wantCode != 0 {
				out = stderr
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stdout+stderr, w) {
					t.Errorf("output has %q:\n%s", w, stdout+stderr)
				}
			}
		})
	}
}

func TestExplainCommandPrintsJSONForTools(t *testing.T) {
	path := writeConfig(t, explainConfig)
	code, stdout, stderr := runMain(t, context.Background(), "explain", "--config", path, "--format", "json", "/chat", "say")
	if code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr)
	}
	var report struct {
		Namespaces []struct {
			Name   string
			Events []struct {
				Name     string
				MayBlock bool `json:"may_block"`
				Steps    []struct {
					Kind, Type string
					Errors     []struct{ Code string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if len(report.Namespaces) != 1 || len(report.Namespaces[0].Events) != 1 {
		t.Fatalf("want one namespace with one event, got %+v", report)
	}
	ev := report.Namespaces[0].Events[0]
	if ev.Name != "say" || ev.MayBlock || len(ev.Steps) != 2 {
		t.Fatalf("event = %+v, want say on the read path with a guard and a handler", ev)
	}
	if g := ev.Steps[0]; g.Kind != "guard" || g.Type != "max_size" || len(g.Errors) == 0 || g.Errors[0].Code != "payload_too_large" {
		t.Errorf("first step = %+v, want the max_size guard refusing with payload_too_large", g)
	}
}

func TestExplainCommandRefusesAConfigThatDoesNotBuild(t *testing.T) {
	path := writeConfig(t, `namespaces:
  /chat:
    events:
      say:
        handler:
          brodcast: {event: said}
`)
	code, stdout, stderr := runMain(t, context.Background(), "explain", "--config", path)
	if code != 1 || stdout != "" {
		t.Fatalf("exit code %d, stdout %q; want 1 and nothing printed", code, stdout)
	}
	if !strings.Contains(stderr, "gateway.yaml:6:11") || !strings.Contains(stderr, `did you mean "broadcast"`) {
		t.Errorf("stderr lacks the positioned error: %s", stderr)
	}
}
