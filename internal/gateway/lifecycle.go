package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/lifecycle"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// newLifecycle builds the lifecycle hooks of server.hooks, or returns nil
// when the section is not written. Nothing runs until Start, so that
// `gatehouse validate` starts no goroutine. On a cluster the adapter
// records which nodes have members in which rooms, so that a room's
// occupied and vacated are sent once for the cluster.
func newLifecycle(cfg *gatewayconfig.Hooks, adp adapter.Adapter, logger *slog.Logger) *lifecycle.Hooks {
	if cfg == nil {
		return nil
	}
	header := make(http.Header, len(cfg.Headers))
	for name, value := range cfg.Headers {
		header.Set(name, value)
	}
	logger = logger.With("component", "hooks")
	sender := lifecycle.NewSender(lifecycle.Options{
		URL:           cfg.URL,
		Header:        header,
		Node:          adp.NodeID(),
		BatchSize:     cfg.Batch.Size,
		BatchInterval: cfg.Batch.Interval.D(),
		Buffer:        cfg.Buffer,
		BufferBytes:   int(cfg.BufferBytes),
		Timeout:       cfg.Timeout.D(),
		RetryMin:      cfg.Retry.MinBackoff.D(),
		RetryMax:      cfg.Retry.MaxBackoff.D(),
		MaxAttempts:   cfg.Retry.MaxAttempts,
		Logger:        logger,
	})
	var occupancy adapter.Occupancy
	if adp.Distributed() {
		occupancy, _ = adp.(adapter.Occupancy)
	}
	return lifecycle.New(sender, cfg.Events, lifecycle.RoomsOptions{
		Occupancy:   occupancy,
		NodeTimeout: cfg.NodeTimeout.D(),
		RetryMin:    cfg.Retry.MinBackoff.D(),
		RetryMax:    cfg.Retry.MaxBackoff.D(),
		Logger:      logger,
	})
}

// roomChanged is the Socket.IO server's RoomChanged: nil without hooks
// that want room events, so that a join costs nothing more then.
func roomChanged(h *lifecycle.Hooks) func(namespace, room string, occupied bool) {
	if h == nil || !h.TracksRooms() {
		return nil
	}
	return h.RoomChanged
}

// hooksConnected sends the connect event of s, when hooks are configured.
func (gw *Gateway) hooksConnected(s *socketio.Socket) {
	if gw.lifecycle == nil {
		return
	}
	gw.lifecycle.Connected(&stateOf(s).presence, s.Namespace(), s.ID(), s.Subject())
}

// hooksDisconnected sends the disconnect event of s, when hooks are
// configured and its connect event was sent.
func (gw *Gateway) hooksDisconnected(s *socketio.Socket, reason string) {
	if gw.lifecycle == nil {
		return
	}
	if cs := keptStateOf(s); cs != nil {
		gw.lifecycle.Disconnected(&cs.presence, s.Namespace(), s.ID(), s.Subject(), reason)
	}
}

// closeLifecycle records the last room changes and posts what is buffered,
// within server.hooks.flush_timeout, after the sockets are closed (so their
// disconnects are in the buffer).
func (gw *Gateway) closeLifecycle(ctx context.Context) error {
	if gw.lifecycle == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gw.cfg.Server.Hooks.FlushTimeout.D())
	defer cancel()
	return gw.lifecycle.Close(ctx)
}

// Lifecycle is the gateway's lifecycle hooks, nil without server.hooks.
func (gw *Gateway) Lifecycle() *lifecycle.Hooks { return gw.lifecycle }
