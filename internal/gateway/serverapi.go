package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// mountAPI serves the server API (contract C4) when api.keys is set.
func (gw *Gateway) mountAPI(app *fiber.App) error {
	if len(gw.cfg.API.Keys) == 0 {
		return nil
	}
	return api.Mount(app, api.Options{
		Keys:      gw.cfg.API.Keys,
		Cluster:   gw.cluster,
		BodyLimit: int(gw.cfg.Server.MaxPayload),
		Logger:    gw.logger,
	})
}

var _ api.Cluster = (*cluster)(nil)

// HasNamespace reports whether the current config declares name.
func (c *cluster) HasNamespace(name string) bool {
	_, ok := c.gw.state().namespaces[name]
	return ok
}

// Emit sends an event to a namespace, a room or a user's sockets, here and
// on the other nodes.
func (c *cluster) Emit(ctx context.Context, e api.Emit) (api.Delivery, error) {
	if _, err := socketio.EncodeEvent(e.Namespace, socketio.NoID, e.Event); err != nil {
		return api.Delivery{}, api.Invalid("event", "%q cannot be sent: %v", e.Event, err)
	}
	var args []any
	var raw []json.RawMessage
	if e.Data != nil {
		args, raw = []any{e.Data}, []json.RawMessage{e.Data}
	}
	var rooms []string
	if e.Room != "" {
		rooms = []string{e.Room}
	}
	if len(rooms) > 0 {
		history{gw: c.gw}.keep(ctx, e.Namespace, rooms, e.Event, args)
	}
	if ns := (recovery{gw: c.gw}).config(e.Namespace); ns != nil {
		// Recorded, like every broadcast of a namespace that recovers,
		// and delivered on every node from the stream.
		msg := &adapter.Message{Kind: adapter.KindBroadcast, Namespace: e.Namespace, Rooms: rooms, User: e.User, Event: e.Event, Args: raw}
		if err := c.adapter.Record(ctx, msg, streamLimits(ns)); err != nil {
			return localOnly(err.Error()), c.deliverLocal(ctx, e.Namespace, rooms, e.User, nil, e.Event, args...)
		}
		return api.Delivery{}, nil
	}
	// Numbered like a socket's broadcast, for the sessions moving meanwhile.
	seq, err := c.gw.sockets.Gated(func() error {
		return c.deliverLocal(ctx, e.Namespace, rooms, e.User, nil, e.Event, args...)
	})
	if err != nil {
		return api.Delivery{}, fmt.Errorf("emit %q to %s: %w", e.Event, e.Namespace, err)
	}
	if !c.distributed() {
		return api.Delivery{}, nil
	}
	dropped := c.send(ctx, &adapter.Message{
		Kind: adapter.KindBroadcast, Namespace: e.Namespace, Rooms: rooms, User: e.User, Event: e.Event, Args: raw, Seq: seq,
	})
	return localOnly(dropped), nil
}

// Disconnect disconnects a user's sockets or one socket, here and on the
// other nodes.
func (c *cluster) Disconnect(ctx context.Context, d api.Disconnect) (api.Delivery, error) {
	c.disconnectLocal(d.Namespace, d.User, d.Socket)
	if !c.distributed() {
		return api.Delivery{}, nil
	}
	dropped := c.send(ctx, &adapter.Message{Kind: adapter.KindDisconnect, Namespace: d.Namespace, User: d.User, Socket: d.Socket})
	return localOnly(dropped), nil
}

// RoomSize counts the sockets in room on every node: this node's, plus the
// answers of the others.
func (c *cluster) RoomSize(ctx context.Context, namespace, room string) (int, error) {
	total := c.gw.sockets.RoomSize(namespace, room)
	answers, err := c.adapter.Request(ctx, &adapter.Message{Kind: adapter.KindRoomSize, Namespace: namespace, Rooms: []string{room}})
	switch {
	case errors.Is(err, adapter.ErrTimeout):
		return 0, &api.Error{Status: fiber.StatusGatewayTimeout, Code: api.CodeUpstreamTimeout,
			Message: "not every gateway answered in time: " + err.Error()}
	case errors.Is(err, adapter.ErrUnavailable):
		return 0, &api.Error{Status: fiber.StatusServiceUnavailable, Code: api.CodeUpstreamError,
			Message: "the other gateways cannot be reached: " + err.Error()}
	case err != nil:
		return 0, fmt.Errorf("count room %q of %s: %w", room, namespace, err)
	}
	for _, a := range answers {
		total += a.Count
	}
	return total, nil
}

func localOnly(dropped string) api.Delivery {
	if dropped == "" {
		return api.Delivery{}
	}
	return api.Delivery{LocalOnly: true, Warning: "delivered on this gateway only: " + dropped}
}

// History reads a room's history for the server API.
func (c *cluster) History(ctx context.Context, namespace, room string, q gatehouse.HistoryQuery) ([]gatehouse.HistoryEntry, error) {
	return history{gw: c.gw}.History(ctx, namespace, room, q)
}
