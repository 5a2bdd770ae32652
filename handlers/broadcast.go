package handlers

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("broadcast", Spec{
		Doc: "Sends an event to every socket of the caller's namespace, or of one room, on every node of the cluster; acks {ok: true}.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload"},
		},
	}, newBroadcast)
}

// broadcastOptions are the options of the "broadcast" handler.
type broadcastOptions struct {
	// Event is the name of the event sent to the namespace or room.
	Event string `yaml:"event" doc:"The name of the event sent." docdefault:"**required**"`
	// Data is its one argument; with neither Data nor Args, the event's
	// own arguments are sent on as they arrived, binary attachments
	// included.
	Data *expr.Expr `yaml:"data" doc:"A CEL expression giving the event's one argument; with neither data nor args, the event's own arguments are sent on." docdefault:"the event's arguments"`
	// Args is a list whose elements are its arguments, one each; it
	// excludes Data.
	Args *expr.Expr `yaml:"args" doc:"A CEL expression giving a list whose elements are the event's arguments; excludes data." doctype:"CEL list"`
	// To names the room; absent, the whole namespace receives the event.
	To *expr.Expr `yaml:"to" doc:"A CEL expression naming the room; absent, the whole namespace receives the event." doctype:"CEL, string" docdefault:"whole namespace"`
	// IncludeSender sends the event to the caller too (default true), as a
	// chat shows one's own message from the same stream as everyone's.
	IncludeSender *bool `yaml:"include_sender" doc:"Whether the caller receives the event too." default:"true"`
	// Reply is the ack; absent, {"ok": true}.
	Reply *expr.Expr `yaml:"reply" doc:"A CEL expression giving the ack; absent, {ok: true}." docdefault:"\x60{\"ok\": true}\x60"`
}

// broadcastHandler sends an event to every socket of the caller's namespace,
// or of one room, on every node of the cluster.
type broadcastHandler struct {
	event         string
	data          *expr.Expr
	args          *expr.Expr
	to            *expr.Expr
	includeSender bool
	reply         *expr.Expr
	// distributed is whether the broadcast also goes to other nodes, over
	// the network.
	distributed bool
}

func newBroadcast(opts config.Options, o broadcastOptions) (Handler, error) {
	if o.Event == "" {
		return nil, opts.Errorf("broadcast: event is required")
	}
	if err := checkDataOrArgs("broadcast", o.Data, o.Args); err != nil {
		return nil, err
	}
	if err := checkRoomName("broadcast: to", o.To); err != nil {
		return nil, err
	}
	h := &broadcastHandler{event: o.Event, data: o.Data, args: o.Args, to: o.To, includeSender: true, reply: o.Reply,
		distributed: opts.Host().Distributed()}
	if o.IncludeSender != nil {
		h.includeSender = *o.IncludeSender
	}
	return h, nil
}

// MayBlock implements Blocking: queueing on local sessions never waits; a
// broadcast that a cluster adapter also carries to other nodes does.
func (h *broadcastHandler) MayBlock() bool { return h.distributed }

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
	arg, err := ev.eventArgs(ctx, h.data, h.args)
	if err != nil {
		return nil, err
	}
	msg.Args = []any{arg}
	if err := call.Socket.Broadcast(ctx, msg); err != nil {
		return nil, fmt.Errorf("broadcast %q from socket %s: %w", h.event, call.Socket.ID(), err)
	}
	if h.reply == nil {
		return okReply(), nil
	}
	return ev.arg(ctx, "reply", h.reply)
}
