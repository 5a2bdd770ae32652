package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// history is the gateway's room history (namespaces[].history), kept by the
// cluster adapter: what handlers read through gatehouse.Host.History and the
// server API answers.
type history struct{ gw *Gateway }

var _ gatehouse.HistoryReader = history{}

// config is the namespace's history, nil when it keeps none.
func (h history) config(namespace string) *gatewayconfig.History {
	st := h.gw.state()
	if st == nil {
		return nil
	}
	if ns := st.namespaces[namespace]; ns != nil {
		return ns.history
	}
	return nil
}

func historyLimits(c *gatewayconfig.History) adapter.HistoryLimits {
	return adapter.HistoryLimits{Size: c.Size, TTL: c.TTL.D(), MaxBytes: int64(c.MaxBytes)}
}

// keep adds a broadcast sent from this node to the history of each of its
// rooms that the namespace keeps. A broadcast with binary arguments is not
// kept: its attachments would have to be kept beside it.
func (h history) keep(ctx context.Context, namespace string, rooms []string, event string, args []any) {
	if c := h.config(namespace); c != nil {
		h.keepIn(ctx, c, namespace, rooms, event, args)
	}
}

// keepIn is keep with the namespace's history config already known (see
// planBroadcasts).
func (h history) keepIn(ctx context.Context, c *gatewayconfig.History, namespace string, rooms []string, event string, args []any) {
	var msg *adapter.Message
	for _, room := range rooms {
		if !c.Keeps(room) {
			continue
		}
		if msg == nil {
			raw, attachments, err := flattenArgs(namespace, event, args)
			if err != nil || len(attachments) > 0 {
				return
			}
			msg = &adapter.Message{Kind: adapter.KindBroadcast, Namespace: namespace, Event: event, Args: raw}
		}
		if err := h.gw.cluster.adapter.AppendHistory(ctx, room, msg, historyLimits(c)); err != nil {
			h.gw.cluster.logger.Debug("message not kept in the room's history", "namespace", namespace, "room", room, "error", err)
		}
	}
}

// History reads a room's history.
func (h history) History(ctx context.Context, namespace, room string, q gatehouse.HistoryQuery) ([]gatehouse.HistoryEntry, error) {
	c := h.config(namespace)
	if !c.Keeps(room) {
		return nil, gatehouse.ErrNoHistory
	}
	limit := q.Limit
	if limit <= 0 || limit > c.Size {
		limit = c.Size
	}
	msgs, err := h.gw.cluster.adapter.History(ctx, namespace, room, q.Since, limit, historyLimits(c))
	if err != nil {
		if errors.Is(err, adapter.ErrBadOffset) {
			return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "since: %q is not an offset of this history", q.Since)
		}
		return nil, fmt.Errorf("history of room %.64q: %w", room, err)
	}
	out := make([]gatehouse.HistoryEntry, len(msgs))
	for i, m := range msgs {
		out[i] = gatehouse.HistoryEntry{Offset: m.Offset, Event: m.Event, Args: m.Args}
	}
	return out, nil
}
