package gatewayconfig

import (
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// Tracing is server.tracing: OpenTelemetry spans of the handshake, each
// CONNECT and each event, exported to an OTLP/HTTP collector. Off unless
// enabled; the server section keeps its values until a restart.
type Tracing struct {
	Enabled     bool              `yaml:"enabled" doc:"Whether the gateway makes spans and exports them; off costs nothing on the event path." default:"false"`
	Endpoint    string            `yaml:"endpoint" doc:"The collector's OTLP/HTTP URL; the path defaults to /v1/traces." default:"\"http://localhost:4318\"" doctype:"string, http:// or https:// URL"`
	SampleRatio float64           `yaml:"sample_ratio" doc:"The share of traces kept, from 0 (none) to 1 (all); it also decides for traces a client started." default:"1" doctype:"number, 0–1"`
	ServiceName string            `yaml:"service_name" doc:"The service.name the spans carry." default:"\"gatehouse\""`
	Headers     map[string]string `yaml:"headers" doc:"Headers sent with every export, such as a vendor's API key from ${ENV}."`
}

// Defaults of server.tracing.
const (
	DefaultTracingEndpoint    = "http://localhost:4318"
	DefaultTracingSampleRatio = 1.0
	DefaultTracingServiceName = "gatehouse"
)

// applyTracingDefaults fills in server.tracing.
func (c *Config) applyTracingDefaults() {
	t := &c.Server.Tracing
	setDefault(c, "server.tracing.endpoint", &t.Endpoint, DefaultTracingEndpoint)
	setDefault(c, "server.tracing.sample_ratio", &t.SampleRatio, DefaultTracingSampleRatio)
	setDefault(c, "server.tracing.service_name", &t.ServiceName, DefaultTracingServiceName)
}

// tracing checks server.tracing, whether enabled or not, so that turning
// it on later never meets an error first.
func (v *validator) tracing(t *Tracing) {
	if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail("server.tracing.endpoint", "server.tracing.endpoint must be an http:// or https:// URL of an OTLP/HTTP collector, such as http://localhost:4318, got %q", t.Endpoint)
	}
	if !(t.SampleRatio >= 0 && t.SampleRatio <= 1) {
		v.fail("server.tracing.sample_ratio", "server.tracing.sample_ratio must be between 0 and 1, got %v", t.SampleRatio)
	}
	if t.ServiceName == "" {
		v.fail("server.tracing.service_name", "server.tracing.service_name must not be empty")
	}
	for name := range t.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			v.fail("server.tracing.headers."+name, "server.tracing.headers: %q is not a header name", name)
		}
	}
}
