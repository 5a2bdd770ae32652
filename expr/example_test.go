package expr_test

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

// A guard option that takes an expression is compiled when the config is
// loaded: a type error is a positioned config error, before any event.
func ExampleExpr() {
	type options struct {
		When expr.Expr `yaml:"when" doc:"A CEL condition an event must meet."`
	}
	reg := guards.NewRegistry()
	guards.DefineIn(reg, "when", guards.Spec{Doc: "Admits what a condition holds true for."},
		func(opts config.Options, o options) (guards.Guard, error) {
			if !o.When.Program.MayBeBool() {
				return nil, opts.FieldError("when", "when: the condition gives %s, not a bool", o.When.Program.ResultType())
			}
			return guards.GuardFunc(func(ctx context.Context, in *guards.Input) error {
				vars, err := expr.VarsFor(in.Socket, in.Event, in.Payload)
				if err != nil {
					return err
				}
				if ok, err := o.When.Program.EvalBool(ctx, vars); err != nil || !ok {
					return gatehouse.Errorf(gatehouse.CodeForbidden, "refused")
				}
				return nil
			}), nil
		})
	factory, _ := reg.Lookup("when")

	for _, src := range []string{`{when: "data.n <"}`, `{when: "1 + 2"}`} {
		opts, _ := gatehousetest.ParseOptions(src, nil)
		_, err := factory(opts)
		fmt.Println(err)
	}
	opts, _ := gatehousetest.ParseOptions(`{when: "data.n < 10"}`, nil)
	g, _ := factory(opts)
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	fmt.Println(g.Check(context.Background(), gatehousetest.Input(s, "add", `{"n": 3}`)))
	fmt.Println(g.Check(context.Background(), gatehousetest.Input(s, "add", `{"n": 30}`)))
	// Output:
	// gateway.yaml:1:17: invalid expression: column 9: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}
	// gateway.yaml:1:17: when: the condition gives int, not a bool
	// <nil>
	// forbidden: refused
}
