package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse"
)

const clientTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestClientParentReadsAWellFormedTraceparentAndIgnoresAnythingElse(t *testing.T) {
	cases := []struct {
		name, traceparent string
		valid             bool
	}{
		{"well formed", clientTraceparent, true},
		{"empty", "", false},
		{"not hex", "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"cut short", "00-4bf92f3577b34da6a3ce929d0e0e4736", false},
		{"too long to be one", clientTraceparent + "-" + string(make([]byte, 4096)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := ClientParent(tc.traceparent, "")
			if sc.IsValid() != tc.valid {
				t.Fatalf("ClientParent(%q).IsValid() = %v, want %v", tc.traceparent, sc.IsValid(), tc.valid)
			}
			if tc.valid && (sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsRemote()) {
				t.Fatalf("span context = %v remote=%v, want the client's trace id, remote", sc.TraceID(), sc.IsRemote())
			}
		})
	}
}

func TestEndpointURLAddsTheTracesPathAndRefusesWhatIsNotAnHTTPURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"http://localhost:4318", "http://localhost:4318/v1/traces"},
		{"https://otel.example.com/", "https://otel.example.com/v1/traces"},
		{"http://collector:4318/custom/traces", "http://collector:4318/custom/traces"},
		{"localhost:4318", ""},
		{"grpc://collector:4317", ""},
		{"http://", ""},
	}
	for _, tc := range cases {
		got, err := EndpointURL(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("EndpointURL(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("EndpointURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSamplingRatioDecidesEvenForAClientThatAsksToBeSampled(t *testing.T) {
	sampledClient := ClientParent(clientTraceparent, "")
	cases := []struct {
		name   string
		ratio  float64
		client trace.SpanContext
		want   int
	}{
		{"ratio 1 keeps a trace of its own", 1, trace.SpanContext{}, 1},
		{"ratio 0 keeps no trace of its own", 0, trace.SpanContext{}, 0},
		{"ratio 0 keeps no trace a client marked sampled", 0, sampledClient, 0},
		{"ratio 1 keeps a client's trace", 1, sampledClient, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recorder := tracetest.NewSpanRecorder()
			tr := NewWithProcessor(Options{SampleRatio: tc.ratio}, recorder)
			ctx, span := tr.StartEvent(context.Background(), tc.client, trace.SpanContext{}, Socket{Namespace: "/chat", ID: "s1"}, "send", "send")
			_, guard := tr.StartGuard(ctx, "limit")
			guard.End()
			span.End()
			if got := len(recorder.Ended()); got != tc.want*2 {
				t.Fatalf("ended spans recorded = %d, want %d", got, tc.want*2)
			}
		})
	}
}

func TestEndMarksOnlyServerSideFailuresAsErrors(t *testing.T) {
	cases := []struct {
		err      error
		code     string
		isError  bool
		describe string
	}{
		{nil, "", false, "success"},
		{gatehouse.Errorf(gatehouse.CodeForbidden, "no"), "forbidden", false, "a guard's refusal"},
		{gatehouse.Errorf(gatehouse.CodeUpstreamTimeout, "slow backend"), "upstream_timeout", true, "a backend timing out"},
		{context.DeadlineExceeded, "internal", true, "an uncoded error"},
	}
	for _, tc := range cases {
		t.Run(tc.describe, func(t *testing.T) {
			recorder := tracetest.NewSpanRecorder()
			tr := NewWithProcessor(Options{SampleRatio: 1, ServiceName: "edge"}, recorder)
			_, span := tr.StartHandler(context.Background(), "webhook")
			End(span, tc.err)
			got := recorder.Ended()[0]
			if isError := got.Status().Code == codes.Error; isError != tc.isError {
				t.Errorf("status = %v, want error %v", got.Status(), tc.isError)
			}
			var code string
			for _, kv := range got.Attributes() {
				if kv.Key == attrCode {
					code = kv.Value.AsString()
				}
			}
			if code != tc.code {
				t.Errorf("gatehouse.code = %q, want %q", code, tc.code)
			}
			if name, _ := got.Resource().Set().Value("service.name"); name.AsString() != "edge" {
				t.Errorf("service.name = %q, want edge", name.AsString())
			}
		})
	}
}
