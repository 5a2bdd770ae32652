package handlers

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/expr"
)

func init() { Register("reply", newReply) }

// replyOptions are the options of the "reply" handler.
type replyOptions struct {
	// Value is the ack, computed from the call.
	Value *expr.Expr `yaml:"value"`
}

// replyHandler acks with a computed value and does nothing else, as
// `whoami: {handler: {reply: {value: user}}}`.
type replyHandler struct {
	value *expr.Expr
}

func newReply(opts config.Options) (Handler, error) {
	var o replyOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.Value == nil {
		return nil, opts.Errorf("reply: value is required")
	}
	return &replyHandler{value: o.Value}, nil
}

// MayBlock implements Blocking: a reply only computes.
func (h *replyHandler) MayBlock() bool { return false }

// Handle returns the value as the ack.
func (h *replyHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	return ev.value(ctx, "value", h.value)
}
