package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// The cluster side of the gateway: a broadcast is delivered to the local
// sockets by the Socket.IO server, then handed to the adapter as a Message
// (socketio.Options.Remote); a Message from another node is delivered to
// the local sockets only (BroadcastLocal), so no socket gets it twice. The
// server API's emits and disconnects take the same two steps.
//
// When the adapter is down, local delivery goes on and the cross-node part
// is dropped: the adapter counts it and logs the outage once, and the
// sender is not failed for it (its event did reach this node's sockets).

// cluster joins the gateway's Socket.IO server to its adapter.
type cluster struct {
	gw      *Gateway
	adapter adapter.Adapter
	logger  *slog.Logger
	// conns counts sockets against the connection caps, on every node
	// with a distributed adapter; made at the first CONNECT with a cap.
	conns     adapter.ConnCounter
	connsOnce sync.Once
	// moves moves sessions to the node that received their WebSocket
	// upgrade (cluster.any_node).
	moves *moves
}

// newAdapter builds the adapter that cfg selects, making spans of what it
// publishes with tracer unless nil. It does not connect.
func newAdapter(cfg gatewayconfig.Adapter, logger *slog.Logger, tracer trace.Tracer) (adapter.Adapter, error) {
	if cfg.Kind != "redis" || cfg.Redis == nil {
		return adapter.NewMemory(logger), nil
	}
	a, err := adapter.NewRedis(adapter.RedisOptions{URL: cfg.Redis.URL, Prefix: cfg.Redis.Prefix, Logger: logger, Tracer: tracer})
	if err != nil {
		return nil, fmt.Errorf("adapter.redis.url: %w", err)
	}
	return a, nil
}

// factoryResources returns the host parts that guard and handler factories
// get besides their options (see hostEnv), without a metrics registry: for
// building instances only to look at them.
func factoryResources(a adapter.Adapter, logger *slog.Logger) *hostEnv {
	return newHostEnv(a, logger, nil)
}

// Adapter is the gateway's cluster adapter, whose State and Errors tell
// whether other nodes are reachable (for /readyz and metrics).
func (gw *Gateway) Adapter() adapter.Adapter { return gw.cluster.adapter }

// start begins receiving the other nodes' messages.
func (c *cluster) start() { c.adapter.Start(c) }

// distributed reports whether other nodes may exist, that is whether
// broadcasts need forwarding at all.
func (c *cluster) distributed() bool { return c.adapter.Distributed() }

// remoteBroadcast is the Socket.IO server's Remote: it forwards a broadcast
// that was already delivered locally.
func (c *cluster) remoteBroadcast(ctx context.Context, namespace string, rooms, except []string, event string, args []any) error {
	raw, attachments, err := flattenArgs(namespace, event, args)
	if err != nil {
		return err
	}
	c.send(ctx, &adapter.Message{
		Kind: adapter.KindBroadcast, Namespace: namespace, Rooms: rooms, Except: except,
		Event: event, Args: raw, Attachments: attachments, Seq: socketio.LocalSeq(ctx),
	})
	return nil
}

// send hands msg to the other nodes and returns why it could not, or "".
func (c *cluster) send(ctx context.Context, msg *adapter.Message) (dropped string) {
	if err := c.adapter.Send(ctx, msg); err != nil {
		c.logger.Debug("cross-node message dropped", "kind", msg.Kind, "namespace", msg.Namespace, "error", err)
		return err.Error()
	}
	return ""
}

// Deliver acts on another node's broadcast or disconnect, on the local
// sockets only.
func (c *cluster) Deliver(ctx context.Context, msg *adapter.Message) {
	if c.moves.active.Load() > 0 && c.moves.deliver(ctx, msg) {
		return
	}
	switch msg.Kind {
	case adapter.KindBroadcast:
		c.deliverBroadcast(ctx, msg)
	case adapter.KindDisconnect:
		c.disconnectLocal(msg.Namespace, msg.User, msg.Socket)
	case adapter.KindMoveAck:
		c.moves.ack(msg)
	case adapter.KindMoveForward:
		c.moves.forwarded(msg)
	default:
		c.logger.Debug("cross-node message of unknown kind ignored", "kind", msg.Kind, "from", msg.Node)
	}
}

// deliverBroadcast delivers another node's broadcast to the local sockets.
func (c *cluster) deliverBroadcast(ctx context.Context, msg *adapter.Message) {
	if msg.Offset != "" {
		if err := c.gw.sockets.DeliverRecorded(ctx, msg.Namespace, recordedOf(msg)); err != nil {
			c.logger.Debug("recorded broadcast not delivered", "namespace", msg.Namespace, "event", msg.Event, "error", err)
		}
		return
	}
	args := gatehouse.Args{Raw: msg.Args, Attachments: msg.Attachments}
	if err := c.deliverLocal(ctx, msg.Namespace, msg.Rooms, msg.User, c.exceptOf(msg), msg.Event, args); err != nil {
		c.logger.Debug("cross-node broadcast not delivered", "namespace", msg.Namespace, "event", msg.Event,
			"from", msg.Node, "error", err)
	}
}

// Echo implements adapter.Echoer: this node's own messages matter to the
// sessions moving here.
func (c *cluster) Echo(_ context.Context, msg *adapter.Message) {
	if c.moves.active.Load() > 0 {
		c.moves.echo(msg)
	}
}

// Answer answers another node's request.
func (c *cluster) Answer(_ context.Context, req *adapter.Message) *adapter.Message {
	switch req.Kind {
	case adapter.KindMoveProbe:
		return c.moves.answerProbe(req)
	case adapter.KindMoveTake:
		return c.moves.answerTake(req)
	}
	if req.Kind == adapter.KindRoomSize && len(req.Rooms) == 1 {
		return &adapter.Message{Count: c.gw.sockets.RoomSize(req.Namespace, req.Rooms[0])}
	}
	if req.Kind == adapter.KindAdmin {
		return c.answerAdmin(req)
	}
	if req.Kind == adapter.KindPresence {
		return c.answerPresence(req)
	}
	return nil
}

// deliverLocal sends an event to this node's sockets of namespace: those in
// rooms, or those of user when user is set, or all of them.
func (c *cluster) deliverLocal(ctx context.Context, namespace string, rooms []string, user string, except []string, event string, args ...any) error {
	if user != "" {
		sockets := c.gw.sockets.SocketsOfUser(namespace, user)
		if len(sockets) == 0 {
			return nil // and not the whole namespace, as empty rooms would mean
		}
		// A socket id works as a room holding that socket, so the
		// packet is still encoded once.
		rooms = make([]string, len(sockets))
		for i, s := range sockets {
			rooms[i] = s.ID()
		}
	}
	return c.gw.sockets.BroadcastLocal(ctx, namespace, rooms, except, event, args...)
}

// disconnectLocal disconnects this node's sockets of user, or the socket
// with id socketID, in namespace or, when it is "", in every namespace.
func (c *cluster) disconnectLocal(namespace, user, socketID string) int {
	var targets []*socketio.Socket
	switch {
	case user != "":
		targets = c.gw.sockets.SocketsOfUser(namespace, user)
	case socketID != "":
		names := []string{namespace}
		if namespace == "" {
			names = names[:0]
			for name := range c.gw.state().namespaces {
				names = append(names, name)
			}
		}
		for _, name := range names {
			if s := c.gw.sockets.Socket(name, socketID); s != nil {
				targets = append(targets, s)
			}
		}
	}
	for _, s := range targets {
		s.Disconnect("disconnected through the server API")
	}
	return len(targets)
}

// flattenArgs turns emit arguments (as documented on gatehouse.Socket.Emit)
// into raw JSON arguments and attachments, the form a Message carries.
func flattenArgs(namespace, event string, args []any) ([]json.RawMessage, [][]byte, error) {
	raw := make([]json.RawMessage, 0, len(args))
	var attachments [][]byte
	for _, arg := range args {
		switch v := arg.(type) {
		case nil:
			raw = append(raw, json.RawMessage("null"))
		case json.RawMessage:
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			raw = append(raw, v)
		case []byte:
			raw = append(raw, json.RawMessage(`{"_placeholder":true,"num":`+strconv.Itoa(len(attachments))+`}`))
			attachments = append(attachments, v)
		case gatehouse.Args, *gatehouse.Args:
			a, _ := v.(gatehouse.Args)
			if p, ok := v.(*gatehouse.Args); ok && p != nil {
				a = *p
			}
			if len(a.Attachments) > 0 && len(attachments) > 0 {
				// Its placeholders would need renumbering: let the codec
				// do it.
				return flattenByCodec(namespace, event, args)
			}
			for _, r := range a.Raw {
				if len(r) == 0 {
					r = json.RawMessage("null")
				}
				raw = append(raw, r)
			}
			attachments = append(attachments, a.Attachments...)
		default:
			encoded, err := json.Marshal(v)
			if err != nil {
				return nil, nil, fmt.Errorf("cluster: argument %d: %w", len(raw), err)
			}
			raw = append(raw, encoded)
		}
	}
	return raw, attachments, nil
}

// flattenByCodec encodes the event as a packet and decodes it again, which
// renumbers every placeholder; only rare argument lists need it.
func flattenByCodec(namespace, event string, args []any) ([]json.RawMessage, [][]byte, error) {
	msgs, err := socketio.EncodeEvent(namespace, socketio.NoID, event, args...)
	if err != nil {
		return nil, nil, err
	}
	var decoder socketio.Decoder
	for _, m := range msgs {
		p, err := decoder.Add(m)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: re-decode event: %w", err)
		}
		if p != nil {
			_, a, err := p.Event()
			if err != nil {
				return nil, nil, fmt.Errorf("cluster: re-decode event: %w", err)
			}
			return a.Raw, a.Attachments, nil
		}
	}
	return nil, nil, fmt.Errorf("cluster: re-decode event %q: incomplete packet", event)
}
