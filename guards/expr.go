package guards

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("expr", Spec{
		Doc:       "Allows what a CEL condition holds true for, and denies anything else with a code and message of its own.",
		Shorthand: "condition",
		Refusals: []Refusal{
			{Code: "forbidden", CodeOption: "code", When: "the condition is not true (or fails to evaluate)"},
		},
	}, newExprGuard)
}

// exprOptions are the options of an expr guard. A bare string is short for
// {condition: ...}.
type exprOptions struct {
	// Condition is a CEL expression that must give true.
	Condition expr.Expr `yaml:"condition" doc:"A CEL expression that must give true; user, data, event, socket, namespace and handshake are its variables." doctype:"CEL, bool" docdefault:"**required**"`
	// Code is the C2 code of the denial (default forbidden).
	Code string `yaml:"code" doc:"The C2 code of the denial." default:"forbidden" doctype:"error code"`
	// Message is the denial's message for the client.
	Message string `yaml:"message" doc:"The denial's message for the client." docdefault:"\x60denied by guard NAME\x60"`
}

// exprGuard allows what its condition holds true for. A false condition, a
// result that is not a bool and an evaluation error all deny, so that a
// condition reading a field the payload lacks fails closed.
type exprGuard struct {
	condition *expr.Program
	code      gatehouse.Code
	message   string
}

func newExprGuard(opts config.Options, o exprOptions) (Guard, error) {
	if o.Condition.Program == nil {
		return nil, opts.Errorf("expr: condition is required, such as `condition: data.room in socket.rooms`")
	}
	if !o.Condition.Program.MayBeBool() {
		return nil, config.Errorf(o.Condition.Pos, "expr: the condition gives %s, not a bool", o.Condition.Program.ResultType())
	}
	g := &exprGuard{condition: o.Condition.Program, code: gatehouse.CodeForbidden, message: o.Message}
	if o.Code != "" {
		code, ok := parseCode(o.Code)
		if !ok {
			return nil, config.Errorf(optionPos(opts, "code"), "expr: %s", unknownCode(o.Code))
		}
		g.code = code
	}
	if g.message == "" {
		g.message = "denied by guard " + opts.Name()
	}
	return g, nil
}

// MayBlock reports that the guard never waits (handlers.Blocking): it only computes.
func (g *exprGuard) MayBlock() bool { return false }

// Check evaluates the condition for the event or connect.
func (g *exprGuard) Check(ctx context.Context, in *Input) error {
	vars, err := expr.VarsFor(in.Socket, in.Event, in.Payload)
	if err != nil {
		return err
	}
	vars.WithArgs(&in.Args)
	vars.WithAuth(in.Auth)
	if in.Namespace != "" {
		vars.Namespace = in.Namespace
	}
	if ok, err := g.condition.EvalBool(ctx, vars); err != nil || !ok {
		return &gatehouse.Error{Code: g.code, Message: g.message}
	}
	return nil
}
