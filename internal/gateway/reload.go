package gateway

import (
	"context"
	"fmt"
	"reflect"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// ReloadFile loads the config at path, lets adjust override what the command
// line overrides (such as --listen), and applies it with Reload. Every
// attempt is counted in the config_reloads_total metric by result.
func (gw *Gateway) ReloadFile(ctx context.Context, path string, adjust func(*gatewayconfig.Config)) (warnings []string, err error) {
	defer func() {
		result := "applied"
		if err != nil {
			result = "refused"
		}
		gw.metrics.Reload(result)
	}()
	cfg, err := gatewayconfig.Load(path)
	if err != nil {
		return nil, err
	}
	if adjust != nil {
		adjust(cfg)
	}
	return gw.Reload(ctx, cfg)
}

// Reload applies a new config without dropping anyone: namespaces, guards,
// handlers, expressions and keys are built anew and swapped in whole, so new
// connections and new events follow the new config while every open
// connection stays up. A config that does not build changes nothing, and the
// error (a positioned gatewayconfig.ErrorList) says why. Settings that only a
// restart can change (the listener, the transport, the adapter, the API) are
// named in the returned warnings and keep their running values.
func (gw *Gateway) Reload(ctx context.Context, cfg *gatewayconfig.Config) (warnings []string, err error) {
	next, err := buildState(ctx, cfg, gw.reg, gw.logger, gw.host)
	if err != nil {
		return nil, err
	}
	gw.planBroadcasts(next)
	var cert *certificate
	if cfg.Server.TLS != nil {
		if gw.tls == nil {
			warnings = append(warnings, "server.tls: TLS was off at start; enabling it needs a restart")
		} else if cert, err = loadCertificate(cfg); err != nil {
			next.stop()
			gw.closePlugins(ctx, next)
			return nil, err
		}
	}
	warnings = append(warnings, restartOnlyChanges(gw.cfg, cfg)...)
	if cert != nil {
		gw.tls.replace(cert)
	}
	previous := gw.current.Swap(next)
	gw.applyLimits(cfg.Server.Limits)
	// Events already running finish with the state they started with; its
	// key refresh is no longer needed by anything new, and its guards and
	// handlers are closed once those events are done.
	previous.stop()
	gw.retire(previous)
	gw.logger.Info("config reloaded", "file", cfg.File, "namespaces", len(next.namespaces),
		"previous_namespaces", len(previous.namespaces))
	return warnings, nil
}

// restartOnlyChanges lists the settings that differ between the running and
// the new config but are fixed while the process runs.
func restartOnlyChanges(running, next *gatewayconfig.Config) []string {
	type setting struct {
		name      string
		was, will any
	}
	settings := []setting{
		{"server.listen", running.Server.Listen, next.Server.Listen},
		{"server.path", running.Server.Path, next.Server.Path},
		{"server.allowed_origins", running.Server.AllowedOrigins, next.Server.AllowedOrigins},
		{"server.transports", running.Server.Transports, next.Server.Transports},
		{"server.ping_interval", running.Server.PingInterval, next.Server.PingInterval},
		{"server.ping_timeout", running.Server.PingTimeout, next.Server.PingTimeout},
		{"server.max_payload", running.Server.MaxPayload, next.Server.MaxPayload},
		{"server.ack_timeout", running.Server.AckTimeout, next.Server.AckTimeout},
		{"server.send_queue", running.Server.SendQueue, next.Server.SendQueue},
		{"server.slow_consumer", running.Server.SlowConsumer, next.Server.SlowConsumer},
		{"server.limits.handshake_timeout", running.Server.Limits.HandshakeTimeout, next.Server.Limits.HandshakeTimeout},
		{"server.limits.message_timeout", running.Server.Limits.MessageTimeout, next.Server.Limits.MessageTimeout},
		{"server.metrics", running.Server.Metrics, next.Server.Metrics},
		{"server.metrics_path", running.Server.MetricsPath, next.Server.MetricsPath},
		{"server.tracing", running.Server.Tracing, next.Server.Tracing},
		{"server.hooks", running.Server.Hooks, next.Server.Hooks},
		{"adapter", running.Adapter, next.Adapter},
		{"api", running.API, next.API},
		{"cluster", running.Cluster, next.Cluster},
	}
	var changed []string
	for _, s := range settings {
		if !reflect.DeepEqual(s.was, s.will) {
			changed = append(changed, fmt.Sprintf("%s changed, but keeps its running value until a restart", s.name))
		}
	}
	return changed
}
