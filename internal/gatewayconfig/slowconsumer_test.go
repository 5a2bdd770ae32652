package gatewayconfig

import (
	"strings"
	"testing"
)

func TestSlowConsumerPolicy(t *testing.T) {
	tests := []struct {
		name    string
		written string
		want    string
		err     string
	}{
		{name: "disconnect by default", written: "", want: "disconnect"},
		{name: "drop_oldest when written", written: "  slow_consumer: drop_oldest\n", want: "drop_oldest"},
		{name: "unknown policy refused at its line", written: "  slow_consumer: drop_newest\n", err: "gw.yaml:3:18: server.slow_consumer must be one of disconnect, drop_oldest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("gw.yaml", yamlText("\nserver:\n  send_queue: 64\n"+tt.written+validNamespaces), envOf(nil))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.SlowConsumer != tt.want {
				t.Errorf("slow_consumer = %q, want %q", cfg.Server.SlowConsumer, tt.want)
			}
		})
	}
}
