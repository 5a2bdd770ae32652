package gatewayconfig

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// optionsOf parses src and wraps its root as the options of a plugin, the
// way the loader hands them to a guard or handler factory.
func optionsOf(t *testing.T, src string) Options {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(yamlText(src), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	return NewOptions(root, Pos{File: "plugin.yaml", Line: root.Line, Column: root.Column})
}

// upperName parses itself, to show that ScalarUnmarshaler types are honoured.
type upperName string

func (u *upperName) UnmarshalScalar(value string, pos Pos) error {
	if value == "" {
		return Errorf(pos, "expected a name")
	}
	*u = upperName(strings.ToUpper(value))
	return nil
}

type sampleRetry struct {
	Attempts int      `yaml:"attempts"`
	Backoff  Duration `yaml:"backoff"`
}

type sampleOptions struct {
	URL      string            `yaml:"url"`
	Timeout  Duration          `yaml:"timeout"`
	Limit    Size              `yaml:"limit"`
	Ratio    float64           `yaml:"ratio"`
	Enabled  bool              `yaml:"enabled"`
	Small    uint8             `yaml:"small"`
	Retry    *sampleRetry      `yaml:"retry"`
	Headers  map[string]string `yaml:"headers"`
	Tags     []string          `yaml:"tags"`
	Extra    any               `yaml:"extra"`
	Raw      yaml.Node         `yaml:"raw"`
	RawPtr   *yaml.Node        `yaml:"raw_ptr"`
	Name     upperName         `yaml:"name"`
	Internal string            `yaml:"-"`
	Default  string            // untagged: its lower-cased name
}

func TestOptionsDecodeFillsEveryKindOfField(t *testing.T) {
	opts := optionsOf(t, `
url: https://example.com/hook
timeout: 1m30s
limit: 512KB
ratio: 0.25
enabled: true
small: 200
retry: {attempts: 3, backoff: 500ms}
headers: {X-Token: abc}
tags: [a, b]
extra: {n: 1, list: [x, 2.5, true, null]}
raw: {anything: [goes]}
raw_ptr: data.room
name: alice
default: yes
`)
	var got sampleOptions
	if err := opts.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.URL != "https://example.com/hook" || got.Timeout.D() != 90*time.Second || got.Limit != 512*Kilobyte ||
		got.Ratio != 0.25 || !got.Enabled || got.Small != 200 || got.Name != "ALICE" || got.Default != "yes" {
		t.Errorf("scalars = %+v", got)
	}
	if got.Retry == nil || got.Retry.Attempts != 3 || got.Retry.Backoff.D() != 500*time.Millisecond {
		t.Errorf("retry = %+v", got.Retry)
	}
	if got.Headers["X-Token"] != "abc" || len(got.Tags) != 2 || got.Tags[1] != "b" {
		t.Errorf("headers %v tags %v", got.Headers, got.Tags)
	}
	extra, ok := got.Extra.(map[string]any)
	if !ok || extra["n"] != 1 || fmt.Sprint(extra["list"]) != "[x 2.5 true <nil>]" {
		t.Errorf("extra = %#v", got.Extra)
	}
	if got.Raw.Kind != yaml.MappingNode || got.Raw.Line != 11 {
		t.Errorf("raw node = kind %v line %d", got.Raw.Kind, got.Raw.Line)
	}
	if got.RawPtr == nil || got.RawPtr.Value != "data.room" || got.RawPtr.Line != 12 {
		t.Errorf("raw_ptr = %+v", got.RawPtr)
	}
}

func TestOptionsDecodeReportsEveryMistakeWithPosition(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     string
		fragment string
	}{
		{"unknown key with hint", "\nurl: x\ntimeot: 5s\n", "plugin.yaml:2:1: ", `unknown key "timeot" (did you mean "timeout"?)`},
		{"unknown key lists allowed keys", "\nzzz: 1\n", "plugin.yaml:1:1: ", "allowed keys: url, timeout, limit"},
		{"unknown nested key names its path", "\nretry: {attempts: 1, backof: 1s}\n", "plugin.yaml:1:22: ", `unknown key "backof" in retry (did you mean "backoff"?)`},
		{"bad duration", "\ntimeout: soon\n", "plugin.yaml:1:10: ", `expected a duration such as 25s, got "soon"`},
		{"negative duration", "\nretry: {backoff: -1s}\n", "plugin.yaml:1:18: ", "cannot be negative"},
		{"bad size", "\nlimit: 1.5MB\n", "plugin.yaml:1:8: ", "expected a size"},
		{"not a bool", "\nenabled: sometimes\n", "plugin.yaml:1:10: ", `expected true or false, got "sometimes"`},
		{"integer overflow", "\nsmall: 300\n", "plugin.yaml:1:8: ", "out of range"},
		{"negative unsigned", "\nsmall: -1\n", "plugin.yaml:1:8: ", "non-negative integer"},
		{"not a number", "\nratio: half\n", "plugin.yaml:1:8: ", "expected a number"},
		{"list expected", "\ntags: a\n", "plugin.yaml:1:7: ", `expected a list, got "a"`},
		{"mapping expected", "\nheaders: [a]\n", "plugin.yaml:1:10: ", "expected a mapping, got a list"},
		{"string expected", "\nurl: {a: 1}\n", "plugin.yaml:1:6: ", "expected a string, got a mapping"},
		{"duplicate key", "\nurl: a\nurl: b\n", "plugin.yaml:2:1: ", `key "url" is already set at line 1`},
		{"duplicate key in generic value", "\nextra: {a: 1, a: 2}\n", "plugin.yaml:1:15: ", `key "a" is already set`},
		{"ScalarUnmarshaler error keeps its position", "\nname: ''\n", "plugin.yaml:1:7: ", "expected a name"},
		{"options not a mapping", "\n[1, 2]\n", "plugin.yaml:1:1: ", "expected a mapping, got a list"},
		{"alias cycle", "\nextra: &x [*x]\n", "plugin.yaml:1:12: ", "alias *x refers to itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sampleOptions
			err := optionsOf(t, tt.src).Decode(&got)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("Decode error = %v, want one ErrorList entry", err)
			}
			if msg := list[0].Error(); !strings.HasPrefix(msg, tt.want) || !strings.Contains(msg, tt.fragment) {
				t.Errorf("error:\n  %s\nwant prefix %q and fragment %q", msg, tt.want, tt.fragment)
			}
		})
	}
}

func TestOptionsDecodeCollectsAllErrors(t *testing.T) {
	var got sampleOptions
	err := optionsOf(t, "\ntimeout: x\nlimit: y\nbogus: 1\n").Decode(&got)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, line := range []int{1, 2, 3} {
		if list[i].Pos.Line != line {
			t.Errorf("error %d at line %d, want %d", i, list[i].Pos.Line, line)
		}
	}
}

func TestOptionsDecodeWithoutOptionsLeavesValueAlone(t *testing.T) {
	got := sampleOptions{URL: "preset"}
	if err := NewOptions(nil, Pos{File: "f"}).Decode(&got); err != nil || got.URL != "preset" {
		t.Errorf("Decode(nil) = %v, %+v", err, got)
	}
	if err := NewOptions(nil, Pos{}).Decode(got); err == nil {
		t.Errorf("Decode into a non-pointer succeeded")
	}
}

func TestOptionsDecodeScalarIntoSize(t *testing.T) {
	// The max_size guard accepts a bare size, so options may be a scalar.
	var limit Size
	if err := optionsOf(t, "\n4KB\n").Decode(&limit); err != nil || limit != 4*Kilobyte {
		t.Errorf("Decode = %v, %v", limit, err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "25s", want: 25 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "-1s", err: "cannot be negative"},
		{in: "10", err: "add a unit"},
		{in: "abc", err: `expected a duration such as 25s, got "abc"`},
		{in: "", err: "expected a duration"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  string
	}{
		{in: "100B", want: 100},
		{in: "512KB", want: 512 * 1024},
		{in: "1MB", want: 1 << 20},
		{in: "1MiB", want: 1 << 20},
		{in: "2gb", want: 2 << 30},
		{in: "4 KB", want: 4096},
		{in: "1_000", want: 1000},
		{in: "4096", want: 4096},
		{in: "0", want: 0},
		{in: "-1", err: "cannot be negative"},
		{in: "-1MB", err: "cannot be negative"},
		{in: "1.5MB", err: "expected a size"},
		{in: "MB", err: "expected a size"},
		{in: "12 parsecs", err: "expected a size"},
		{in: "99999999999999999999", err: "too large"},
		{in: "9000000TB", err: "too large"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSize(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeStringRoundTrips(t *testing.T) {
	for _, s := range []Size{0, 1, 100, Kilobyte, 1536 * Kilobyte, Megabyte, 3 * Gigabyte, 1025, math.MaxInt64} {
		back, err := ParseSize(s.String())
		if err != nil || back != s {
			t.Errorf("%d -> %q -> %d, %v", int64(s), s.String(), int64(back), err)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"listen", "path", "allowed_origins", "transports", "ping_interval", "ping_timeout", "tls"}
	tests := []struct{ in, want string }{
		{"listn", `listen`},
		{"lsiten", `listen`},
		{"ping_intreval", `ping_interval`},
		{"TLS", `tls`},
		{"alowed_origin", `allowed_origins`},
		{"transport", `transports`},
		{"zebra", ``},
		{"p", ``},
		{"frobnicate", ``},
	}
	for _, tt := range tests {
		want := ""
		if tt.want != "" {
			want = fmt.Sprintf(" (did you mean %q?)", tt.want)
		}
		if got := Suggest(tt.in, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"listen", "lsiten", 1}, {"ab", "ba", 1}, {"same", "same", 0}, {"héllo", "hello", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
