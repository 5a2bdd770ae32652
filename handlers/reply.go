package handlers

import (
	"context"
	"strings"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("reply", Spec{
		Doc: "Acks the event with a value computed from the call; exactly one of value and args is set.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload"},
		},
	}, newReply)
}

// replyOptions are the options of the "reply" handler; exactly one is set.
type replyOptions struct {
	// Value is the ack's one argument, computed from the call.
	Value *expr.Expr `yaml:"value" doc:"A CEL expression giving the ack's one argument." docdefault:"—"`
	// Args is a list whose elements are the ack's arguments, one each;
	// `args: args` acks with the event's arguments as received.
	Args *expr.Expr `yaml:"args" doc:"A CEL expression giving a list whose elements are the ack's arguments; args: args acks with the event's arguments." doctype:"CEL list" docdefault:"—"`
}

// replyHandler acks with a computed value and does nothing else, as
// `whoami: {handler: {reply: {value: user}}}`, or with computed arguments,
// as `echo: {handler: {reply: {args: args}}}`.
type replyHandler struct {
	value *expr.Expr
	args  *expr.Expr
}

func newReply(opts config.Options, o replyOptions) (Handler, error) {
	switch {
	case o.Value == nil && o.Args == nil:
		return nil, opts.Errorf("reply: value or args is required")
	case o.Value != nil && o.Args != nil:
		return nil, config.Errorf(o.Args.Pos, "reply: value and args are exclusive: value is the ack's one argument, args the list of its arguments")
	case o.Args != nil:
		if err := checkList("reply", o.Args); err != nil {
			return nil, err
		}
	}
	return &replyHandler{value: o.Value, args: o.Args}, nil
}

// checkList refuses at load an args expression that cannot give a list.
func checkList(handler string, e *expr.Expr) error {
	t := e.Program.ResultType()
	if t == "dyn" || strings.HasPrefix(t, "list(") {
		return nil
	}
	return config.Errorf(e.Pos, "%s: args must give a list of the arguments, such as [data, user.sub] or args, not %s", handler, t)
}

// MayBlock implements Blocking: a reply only computes.
func (h *replyHandler) MayBlock() bool { return false }

// Handle returns the ack: one value, or a gatehouse.Args of several.
func (h *replyHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	if h.args != nil {
		return ev.argList(ctx, "args", h.args)
	}
	return ev.arg(ctx, "value", h.value)
}

// checkDataOrArgs refuses an event handler given both data and args.
func checkDataOrArgs(handler string, data, args *expr.Expr) error {
	if args == nil {
		return nil
	}
	if data != nil {
		return config.Errorf(args.Pos, "%s: data and args are exclusive: data is the event's one argument, args the list of its arguments", handler)
	}
	return checkList(handler, args)
}
