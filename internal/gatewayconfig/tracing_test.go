package gatewayconfig

import (
	"maps"
	"strings"
	"testing"
)

func TestTracingIsOffByDefaultWithACollectorOnLocalhost(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Server.Tracing
	want := Tracing{Enabled: false, Endpoint: "http://localhost:4318", SampleRatio: 1, ServiceName: "gatehouse"}
	if got.Enabled != want.Enabled || got.Endpoint != want.Endpoint || got.SampleRatio != want.SampleRatio ||
		got.ServiceName != want.ServiceName || len(got.Headers) != 0 {
		t.Errorf("tracing = %+v, want %+v", got, want)
	}
}

func TestTracingKeepsWhatIsWrittenIncludingARatioOfZero(t *testing.T) {
	yaml := `
server:
  tracing:
    enabled: true
    endpoint: https://otel.example.com
    sample_ratio: 0
    service_name: edge-eu
    headers:
      x-api-key: ${OTEL_KEY}
` + validNamespaces
	cfg, err := Parse("gw.yaml", yamlText(yaml), envOf(map[string]string{"OTEL_KEY": "k1"}))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Server.Tracing
	if !got.Enabled || got.Endpoint != "https://otel.example.com" || got.SampleRatio != 0 || got.ServiceName != "edge-eu" ||
		!maps.Equal(got.Headers, map[string]string{"x-api-key": "k1"}) {
		t.Errorf("tracing = %+v", got)
	}
}

func TestTracingMistakesAreReportedAtTheirPosition(t *testing.T) {
	tests := []struct {
		name     string
		tracing  string // the lines under "tracing:", indented by four spaces
		want     string
		fragment string
	}{
		{"endpoint without a scheme", "    endpoint: collector:4318\n", "gw.yaml:3:15: ", "http:// or https:// URL"},
		{"gRPC endpoint", "    endpoint: grpc://collector:4317\n", "gw.yaml:3:15: ", "OTLP/HTTP"},
		{"ratio above one", "    sample_ratio: 1.5\n", "gw.yaml:3:19: ", "between 0 and 1"},
		{"negative ratio", "    sample_ratio: -0.1\n", "gw.yaml:3:19: ", "between 0 and 1"},
		{"empty service name", "    service_name: \"\"\n", "gw.yaml:3:19: ", "must not be empty"},
		{"bad header name", "    headers: {\"bad header\": x}\n", "gw.yaml:3:29: ", "not a header name"},
		{"misspelt key", "    sample_rate: 0.5\n", "gw.yaml:3:5: ", `did you mean "sample_ratio"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "server:\n  tracing:\n" + tc.tracing + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.fragment) {
				t.Errorf("error = %q, want prefix %q and %q", msg, tc.want, tc.fragment)
			}
		})
	}
}
