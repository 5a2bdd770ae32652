package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// The gateway's side of the operator's view (server.admin): it describes
// this node to package admin, answers the other nodes' requests for their
// part, and keeps the last refusals where it already counts them (limits,
// CONNECTs, events, upgrade-time token checks).

// newAdminLocal returns this node's part of the operator's view. Every node
// has one, so that it answers the nodes that serve the view; only a node
// that serves it keeps refusals.
func (gw *Gateway) newAdminLocal() *admin.Local {
	var ring *admin.Ring
	if a := gw.cfg.Server.Admin; a.Enabled {
		ring = admin.NewRing(a.RecentRefusals)
	}
	return &admin.Local{Node: adminNode{gw: gw}, Refusals: ring}
}

// mountAdmin serves the operator's view at server.admin.path, behind the
// server API's keys, when server.admin.enabled is set.
func (gw *Gateway) mountAdmin(app *fiber.App) error {
	a := gw.cfg.Server.Admin
	if !a.Enabled {
		return nil
	}
	check, err := api.KeyCheck(gw.cfg.API.Keys, gw.logger)
	if err != nil {
		return fmt.Errorf("server.admin: %w", err)
	}
	var peers admin.Peers
	if gw.cluster.distributed() {
		peers = gw.cluster
	}
	gw.logger.Info("operator's view served", "path", a.Path, "recent_refusals", a.RecentRefusals)
	return admin.Mount(app, admin.Options{Path: a.Path, Auth: check, Local: gw.admin, Peers: peers,
		APIPrefix: api.Prefix, Logger: gw.logger})
}

var _ admin.Peers = (*cluster)(nil)

// Gather asks the other nodes for their part of the operator's view.
func (c *cluster) Gather(ctx context.Context, part string) ([]json.RawMessage, error) {
	answers, err := c.adapter.Request(ctx, &adapter.Message{Kind: adapter.KindAdmin, Event: part})
	out := make([]json.RawMessage, 0, len(answers))
	for _, a := range answers {
		if len(a.Args) == 1 {
			out = append(out, a.Args[0])
		}
	}
	if err != nil {
		return out, fmt.Errorf("gather %s: %w", part, err)
	}
	return out, nil
}

// answerAdmin answers another node's request for this node's part of the
// operator's view.
func (c *cluster) answerAdmin(req *adapter.Message) *adapter.Message {
	raw, err := c.gw.admin.Answer(req.Event)
	if err != nil {
		c.logger.Debug("admin request not answered", "part", req.Event, "from", req.Node, "error", err)
		return nil
	}
	return &adapter.Message{Args: []json.RawMessage{raw}}
}

// adminNode describes this node to the operator's view.
type adminNode struct{ gw *Gateway }

var _ admin.Node = adminNode{}

// ID implements admin.Node.
func (n adminNode) ID() string { return n.gw.cluster.adapter.NodeID() }

// Connections implements admin.Node: the declared namespaces with their
// sockets and rooms.
func (n adminNode) Connections() admin.NodeConnections {
	id := n.ID()
	out := admin.NodeConnections{Node: id, Namespaces: []admin.NamespaceView{}, Sockets: []admin.SocketInfo{}}
	names := make([]string, 0, len(n.gw.state().namespaces))
	for name := range n.gw.state().namespaces {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		sockets := n.gw.sockets.Sockets(name)
		rooms, truncated := admin.LargestRooms(n.gw.sockets.RoomSizes(name))
		out.Namespaces = append(out.Namespaces, admin.NamespaceView{Namespace: name, Sockets: len(sockets),
			Rooms: rooms, RoomsTruncated: truncated})
		for _, s := range sockets {
			if len(out.Sockets) == admin.MaxSockets {
				out.SocketsTruncated = true
				break
			}
			out.Sockets = append(out.Sockets, socketInfo(id, s))
		}
	}
	return out
}

// socketInfo describes a socket by what identifies it, never by its token
// or claims other than the subject.
func socketInfo(node string, s *socketio.Socket) admin.SocketInfo {
	rooms := s.Rooms()
	slices.Sort(rooms)
	if len(rooms) > admin.MaxSocketRooms {
		rooms = rooms[:admin.MaxSocketRooms]
	}
	return admin.SocketInfo{ID: s.ID(), Namespace: s.Namespace(), Node: node, User: s.Subject(),
		Address: s.RemoteIP(), Transport: s.Transport(), Rooms: rooms}
}

// Events implements admin.Node from the gateway's metrics.
func (n adminNode) Events() admin.NodeEvents {
	m := n.gw.metrics
	out := admin.NodeEvents{Node: n.ID(), Metrics: m != nil, Events: []admin.EventStat{}}
	type key struct{ namespace, event string }
	byEvent := map[key]*admin.EventStat{}
	stat := func(namespace, event string) *admin.EventStat {
		k := key{namespace, event}
		if byEvent[k] == nil {
			byEvent[k] = &admin.EventStat{Namespace: namespace, Event: event, Codes: map[string]uint64{}}
		}
		return byEvent[k]
	}
	for _, c := range m.EventCounts() {
		e := stat(c.Namespace, c.Event)
		if c.Count > 0 { // a series made ahead of its first event
			e.Total += c.Count
			e.Codes[c.Code] += c.Count
		}
	}
	for _, h := range m.HandlerHistograms() {
		if h.Count == 0 {
			continue
		}
		latency := admin.HandlerLatency{Handler: h.Handler, Count: h.Count, SumSeconds: h.SumSeconds}
		for i, bound := range h.Bounds {
			latency.Buckets = append(latency.Buckets, admin.Bucket{LE: bound, Count: h.Cumulative[i]})
		}
		e := stat(h.Namespace, h.Event)
		e.Handlers = append(e.Handlers, latency)
	}
	for _, e := range byEvent {
		out.Events = append(out.Events, *e)
	}
	return out
}

// keepsRefusals reports whether the operator's view is served, and so
// keeps the last refusals.
func (gw *Gateway) keepsRefusals() bool { return gw.admin != nil && gw.admin.Refusals != nil }

// guardRefusal is a guard's denial, naming the guard for the operator's
// view.
type guardRefusal struct {
	guard string
	err   error
}

func (e *guardRefusal) Error() string { return fmt.Sprintf("guard %q: %v", e.guard, e.err) }
func (e *guardRefusal) Unwrap() error { return e.err }

// noteRefusal keeps a refusal for the operator's view when it is served.
// The reason is the message the client was sent (and the guard that
// denied), never a wrapped error's details.
func (gw *Gateway) noteRefusal(stage, namespace, event, address string, err error) {
	if !gw.keepsRefusals() || err == nil {
		return
	}
	ring := gw.admin.Refusals
	coded := gatehouse.AsError(err)
	reason := coded.Message
	var denied *guardRefusal
	if errors.As(err, &denied) {
		reason = "guard " + denied.guard + ": " + reason
	}
	ring.Add(admin.Refusal{Time: time.Now().UTC(), Stage: stage, Namespace: namespace, Event: event,
		Code: string(coded.Code), Reason: reason, Address: address})
}

// answeredLimits are the limits whose refusals reach the client as an
// event's or a CONNECT's answer, kept as such rather than twice.
var answeredLimits = []string{limitFlood, limitFloodDisconnect, limitDraining, socketio.LimitRooms,
	socketio.LimitQueuedEvents, socketio.LimitQueuedBytes}

// limitCodes are the C2 codes a client is told for the limits that refuse
// before any namespace; others are limit_exceeded.
var limitCodes = map[string]gatehouse.Code{
	"max_connections":           gatehouse.CodeUnavailable,
	"max_connections_per_ip":    gatehouse.CodeUnavailable,
	"shutting_down":             gatehouse.CodeUnavailable,
	limitTCPConnsPerIP:          gatehouse.CodeUnavailable,
	socketio.LimitPacketBytes:   gatehouse.CodePayloadTooLarge,
	socketio.LimitNamespaces:    gatehouse.CodeLimitExceeded,
	limitAllowedOrigins:         gatehouse.CodeForbidden,
	limitHandshakeTimeout:       gatehouse.CodeLimitExceeded,
	socketio.LimitBinaryTimeout: gatehouse.CodeLimitExceeded,
}

// keepLimitRefusal keeps a refusal of a limit of server.limits, with the
// attributes of its log line (ip, origin), unless the refusal was answered
// within a namespace and is kept there.
func (l *refusalLog) keepLimitRefusal(limit string, attrs []any) {
	if l.recent == nil || slices.Contains(answeredLimits, limit) {
		return
	}
	var ip, origin string
	for i := 0; i+1 < len(attrs); i += 2 {
		value, _ := attrs[i+1].(string)
		switch attrs[i] {
		case "namespace":
			return // answered within the namespace, and kept there
		case "ip":
			ip = value
		case "origin":
			origin = value
		}
	}
	code, ok := limitCodes[limit]
	if !ok {
		code = gatehouse.CodeLimitExceeded
	}
	reason := "server.limits." + limit + " reached"
	if origin != "" {
		reason = "origin " + origin + " is not in server.allowed_origins"
	}
	l.recent.Add(admin.Refusal{Time: l.now().UTC(), Stage: admin.StageLimit, Code: string(code), Reason: reason, Address: ip})
}
