package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("emit", Spec{
		Doc: "Sends an event back to the caller alone, optionally waiting for the client's acknowledgement.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload"},
			{Code: "upstream_timeout", IfOption: "await_ack", When: "the client does not answer within server.ack_timeout"},
		},
	}, newEmit)
}

// emitOptions are the options of the "emit" handler.
type emitOptions struct {
	// Event is the name of the event sent back to the caller.
	Event string `yaml:"event" doc:"The name of the event sent back to the caller." docdefault:"**required**"`
	// Data is its one argument; with neither Data nor Args, the event's
	// own arguments are sent on as they arrived, binary attachments
	// included.
	Data *expr.Expr `yaml:"data" doc:"A CEL expression giving the event's one argument; with neither data nor args, the event's own arguments are sent on." docdefault:"the event's arguments"`
	// Args is a list whose elements are its arguments, one each; it
	// excludes Data.
	Args *expr.Expr `yaml:"args" doc:"A CEL expression giving a list whose elements are the event's arguments; excludes data." doctype:"CEL list"`
	// Reply is the ack; absent, the ack has no argument (or, with
	// await_ack, the client's answer).
	Reply *expr.Expr `yaml:"reply" doc:"A CEL expression giving the ack; absent, no argument (or, with await_ack, the client's answer)." docdefault:"none; with \x60await_ack\x60, the client's answer"`
	// AwaitAck asks the client to acknowledge the event and waits for it
	// (up to server.ack_timeout); the client's first ack argument becomes
	// this handler's reply unless Reply says otherwise.
	AwaitAck bool `yaml:"await_ack" doc:"Whether to ask the client to acknowledge the event and wait for it, up to server.ack_timeout." default:"false"`
}

// emitHandler sends an event to the caller only.
type emitHandler struct {
	event    string
	data     *expr.Expr
	args     *expr.Expr
	reply    *expr.Expr
	awaitAck bool
}

func newEmit(opts config.Options, o emitOptions) (Handler, error) {
	if o.Event == "" {
		return nil, opts.Errorf("emit: event is required")
	}
	if err := checkDataOrArgs("emit", o.Data, o.Args); err != nil {
		return nil, err
	}
	return &emitHandler{event: o.Event, data: o.Data, args: o.Args, reply: o.Reply, awaitAck: o.AwaitAck}, nil
}

// MayBlock implements Blocking: with await_ack the handler waits for the
// client's answer.
func (h *emitHandler) MayBlock() bool { return h.awaitAck }

// Handle emits the event to the calling socket, then computes the ack.
func (h *emitHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	arg, err := ev.eventArgs(ctx, h.data, h.args)
	if err != nil {
		return nil, err
	}
	if !h.awaitAck {
		if err := call.Socket.Emit(h.event, arg); err != nil {
			return nil, fmt.Errorf("emit %q to socket %s: %w", h.event, call.Socket.ID(), err)
		}
		return ev.arg(ctx, "reply", h.reply)
	}
	answer, err := call.Socket.EmitWithAck(ctx, h.event, arg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("emit %q to socket %s: %w", h.event, call.Socket.ID(), err)
		}
		return nil, fmt.Errorf("%w (%w)", gatehouse.Errorf(gatehouse.CodeUpstreamTimeout,
			"the client did not acknowledge %q in time", h.event), err)
	}
	if h.reply != nil {
		return ev.arg(ctx, "reply", h.reply)
	}
	if len(answer) == 0 {
		return nil, nil
	}
	return answer[0], nil
}
