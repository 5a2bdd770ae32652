package gateway

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// recovery is the Socket.IO server's connection state recovery, kept by
// the cluster adapter: in the process with the memory adapter, in Redis
// with the Redis adapter, so that a client recovers on any node, and the
// clients of a node that drains recover on another.
type recovery struct{ gw *Gateway }

var _ socketio.Recovery = recovery{}

// config is the namespace's recovery, nil when off.
func (r recovery) config(namespace string) *namespaceRuntime {
	st := r.gw.state()
	if st == nil {
		return nil
	}
	ns := st.namespaces[namespace]
	if ns == nil || ns.recovery == nil {
		return nil
	}
	return ns
}

// Window is the namespace's max_disconnection, 0 when it does not recover.
func (r recovery) Window(namespace string) time.Duration {
	if ns := r.config(namespace); ns != nil {
		return ns.recovery.MaxDisconnection.D()
	}
	return 0
}

// HoldLimits are the namespace's max_packets and max_bytes: a recovering
// socket holds no more live packets than the stream keeps.
func (r recovery) HoldLimits(namespace string) (int, int64) {
	limits := streamLimits(r.config(namespace))
	if limits.MaxEntries <= 0 {
		limits.MaxEntries = gatewayconfig.DefaultRecoveryMaxPackets
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = int64(gatewayconfig.DefaultRecoveryMaxBytes)
	}
	return limits.MaxEntries, limits.MaxBytes
}

// Record hands the broadcast to the adapter's stream. When the adapter
// cannot take it (Redis down), this node's sockets still get it, without
// an offset: it cannot be replayed, as a broadcast cannot reach the other
// nodes then either.
func (r recovery) Record(ctx context.Context, namespace string, rooms, except []string, event string, args []any) error {
	return r.record(ctx, namespace, streamLimits(r.config(namespace)), rooms, except, event, args)
}

// record is Record with the namespace's stream limits already known (see
// planBroadcasts).
func (r recovery) record(ctx context.Context, namespace string, limits adapter.StreamLimits, rooms, except []string, event string, args []any) error {
	raw, attachments, err := flattenArgs(namespace, event, args)
	if err != nil {
		return err
	}
	msg := &adapter.Message{
		Kind: adapter.KindBroadcast, Namespace: namespace, Rooms: rooms, Except: except,
		Event: event, Args: raw, Attachments: attachments,
	}
	if err := r.gw.cluster.adapter.Record(ctx, msg, limits); err != nil {
		r.gw.cluster.logger.Debug("broadcast not recorded for recovery; delivered on this node only", "namespace", namespace, "event", event, "error", err)
		return r.gw.sockets.BroadcastLocal(ctx, namespace, rooms, except, event, gatehouse.Args{Raw: raw, Attachments: attachments})
	}
	return nil
}

// Head is the offset of the namespace's last recorded packet.
func (r recovery) Head(ctx context.Context, namespace string) (string, error) {
	return r.gw.cluster.adapter.Head(ctx, namespace)
}

// Save keeps a lost socket's session.
func (r recovery) Save(ctx context.Context, s *socketio.Session) error {
	return r.gw.cluster.adapter.SaveSession(ctx, &adapter.Session{
		ID: s.ID, PID: s.PID, Namespace: s.Namespace, Subject: s.Subject,
		Rooms: s.Rooms, Start: s.Start, Expires: s.Expires,
	})
}

// Take removes and returns a kept session.
func (r recovery) Take(ctx context.Context, pid string) (*socketio.Session, error) {
	s, err := r.gw.cluster.adapter.TakeSession(ctx, pid)
	if err != nil || s == nil {
		return nil, err
	}
	return &socketio.Session{
		ID: s.ID, PID: s.PID, Namespace: s.Namespace, Subject: s.Subject,
		Rooms: s.Rooms, Start: s.Start, Expires: s.Expires,
	}, nil
}

// Since reads the packets recorded after offset.
func (r recovery) Since(ctx context.Context, namespace, offset string) ([]socketio.Recorded, bool, error) {
	msgs, complete, err := r.gw.cluster.adapter.Since(ctx, namespace, offset)
	if err != nil || !complete {
		return nil, complete, err
	}
	out := make([]socketio.Recorded, len(msgs))
	for i, m := range msgs {
		out[i] = recordedOf(m)
	}
	return out, true, nil
}

// After orders two offsets of one stream.
func (recovery) After(a, b string) bool { return adapter.CompareOffsets(a, b) > 0 }

func recordedOf(m *adapter.Message) socketio.Recorded {
	return socketio.Recorded{
		Offset: m.Offset, Rooms: m.Rooms, Except: m.Except, User: m.User, Event: m.Event,
		Args: gatehouse.Args{Raw: m.Args, Attachments: m.Attachments},
	}
}

// streamLimits bounds the stream of a namespace that recovers (ns may be
// nil after a reload turned recovery off: the adapter's defaults apply).
func streamLimits(ns *namespaceRuntime) adapter.StreamLimits {
	if ns == nil || ns.recovery == nil {
		return adapter.StreamLimits{}
	}
	return adapter.StreamLimits{
		MaxEntries: ns.recovery.MaxPackets,
		MaxBytes:   int64(ns.recovery.MaxBytes),
		MaxAge:     ns.recovery.MaxDisconnection.D(),
	}
}
