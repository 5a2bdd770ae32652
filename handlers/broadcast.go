package handlers

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/expr"
)

func init() { Register("broadcast", newBroadcast) }

// broadcastOptions are the options of the "broadcast" handler.
type broadcastOptions struct {
	// Event is the name of the event sent to the namespace or room.
	Event string `yaml:"event"`
	// Data is its argument; absent, the event's own arguments are sent on
	// as they arrived, binary attachments included.
	Data *expr.Expr `yaml:"data"`
	// To names the room; absent, the whole namespace receives the event.
	To *expr.Expr `yaml:"to"`
	// IncludeSender sends the event to the caller too (default true), as a
	// chat shows one's own message from the same stream as everyone's.
	IncludeSender *bool `yaml:"include_sender"`
	// Reply is the ack; absent, {"ok": true}.
	Reply *expr.Expr `yaml:"reply"`
}

// broadcastHandler sends an event to every socket of the caller's namespace,
// or of one room, on every node of the cluster.
type broadcastHandler struct {
	event         string
	data          *expr.Expr
	to            *expr.Expr
	includeSender bool
	reply         *expr.Expr
}

func newBroadcast(opts config.Options) (Handler, error) {
	var o broadcastOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.Event == "" {
		return nil, opts.Errorf("broadcast: event is required")
	}
	h := &broadcastHandler{event: o.Event, data: o.Data, to: o.To, includeSender: true, reply: o.Reply}
	if o.IncludeSender != nil {
		h.includeSender = *o.IncludeSender
	}
	return h, nil
}

// MayBlock implements Blocking: queueing on local sessions never waits.
// (A broadcast that a cluster adapter also carries to other nodes does; the
// gateway then treats every event as blocking.)
func (h *broadcastHandler) MayBlock() bool { return false }

// Handle broadcasts the event, then computes the ack.
func (h *broadcastHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	msg := gatehouse.Broadcast{Event: h.event, ExceptSender: !h.includeSender}
	if h.to != nil {
		room, err := ev.room(ctx, "to", h.to)
		if err != nil {
			return nil, err
		}
		msg.Rooms = []string{room}
	}
	if h.data != nil {
		data, err := ev.value(ctx, "data", h.data)
		if err != nil {
			return nil, err
		}
		msg.Args = []any{data}
	} else {
		msg.Args = []any{call.Args}
	}
	if err := call.Socket.Broadcast(ctx, msg); err != nil {
		return nil, fmt.Errorf("broadcast %q from socket %s: %w", h.event, call.Socket.ID(), err)
	}
	if h.reply == nil {
		return okReply(), nil
	}
	return ev.value(ctx, "reply", h.reply)
}
