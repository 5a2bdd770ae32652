package handlers

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/expr"
)

func init() { Register("emit", newEmit) }

// emitOptions are the options of the "emit" handler.
type emitOptions struct {
	// Event is the name of the event sent back to the caller.
	Event string `yaml:"event"`
	// Data is its argument; absent, the event's own arguments are sent on
	// as they arrived, binary attachments included.
	Data *expr.Expr `yaml:"data"`
	// Reply is the ack; absent, the ack has no argument.
	Reply *expr.Expr `yaml:"reply"`
}

// emitHandler sends an event to the caller only.
type emitHandler struct {
	event string
	data  *expr.Expr
	reply *expr.Expr
}

func newEmit(opts config.Options) (Handler, error) {
	var o emitOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.Event == "" {
		return nil, opts.Errorf("emit: event is required")
	}
	return &emitHandler{event: o.Event, data: o.Data, reply: o.Reply}, nil
}

// Handle emits the event to the calling socket, then computes the ack.
func (h *emitHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	var arg any = call.Args
	if h.data != nil {
		data, err := ev.value(ctx, "data", h.data)
		if err != nil {
			return nil, err
		}
		arg = data
	}
	if err := call.Socket.Emit(h.event, arg); err != nil {
		return nil, fmt.Errorf("emit %q to socket %s: %w", h.event, call.Socket.ID(), err)
	}
	return ev.value(ctx, "reply", h.reply)
}
