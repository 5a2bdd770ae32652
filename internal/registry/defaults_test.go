package registry

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

type retryOptions struct {
	Attempts int                    `yaml:"attempts" default:"3"`
	Backoff  gatewayconfig.Duration `yaml:"backoff" default:"500ms"`
}

type defaultedOptions struct {
	Channel string       `yaml:"channel" default:"events"`
	Enabled *bool        `yaml:"enabled" default:"true"`
	Tags    []string     `yaml:"tags" default:"[a, b]"`
	Retry   retryOptions `yaml:"retry"`
	Plain   int          `yaml:"plain"`
}

func optionsFrom(t *testing.T, src string) gatewayconfig.Options {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("options: "+src+"\n"), &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0].Content[1]
	return gatewayconfig.NewOptions(n, gatewayconfig.Pos{File: "gateway.yaml", Line: n.Line, Column: n.Column})
}

func TestTypedAppliesTheDefaultTagsOfAbsentOptions(t *testing.T) {
	_, build := Typed(Spec{}, func(_ gatewayconfig.Options, o defaultedOptions) (defaultedOptions, error) { return o, nil })
	tests := []struct {
		name  string
		src   string
		check func(o defaultedOptions) bool
	}{
		{"nothing written", "{}", func(o defaultedOptions) bool {
			return o.Channel == "events" && o.Enabled != nil && *o.Enabled && len(o.Tags) == 2 &&
				o.Retry.Attempts == 3 && o.Retry.Backoff.D() == 500*time.Millisecond && o.Plain == 0
		}},
		{"written values win", "{channel: news, enabled: false, tags: [], retry: {attempts: 1}}", func(o defaultedOptions) bool {
			return o.Channel == "news" && o.Enabled != nil && !*o.Enabled && len(o.Tags) == 0 &&
				o.Retry.Attempts == 1 && o.Retry.Backoff.D() == 500*time.Millisecond
		}},
		{"null options", "", func(o defaultedOptions) bool { return o.Channel == "events" && o.Retry.Attempts == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(optionsFrom(t, tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Fatalf("decoded %+v", o)
			}
		})
	}
}

type brokenDefault struct {
	Timeout gatewayconfig.Duration `yaml:"timeout" default:"soon"`
}

func TestTypedRefusesADefaultTagItCannotDecode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a default tag that is not a duration was accepted")
		}
	}()
	Typed(Spec{}, func(_ gatewayconfig.Options, o brokenDefault) (brokenDefault, error) { return o, nil })
}
