// Package expr is the expression language of gateway.yaml (CEL) as guards
// and handlers take it in their options: the same compile-time checks,
// positions and evaluation cost limit as the built-ins.
//
// Declare an option as Expr (or *Expr, for an optional one) in an options
// struct registered with guards.Define or handlers.Define: the config
// loader compiles it when the file is loaded, so a syntax or type error is a
// config error naming file:line:col, and `gatehouse validate` reports it.
// At run time, build the variables of a call with VarsFor and evaluate the
// option's Program. The variables are user (the claims), data (the
// payload), event, socket (id, rooms, ip, transport), namespace, args and
// handshake (auth).
package expr

import (
	"github.com/gatehouse-dev/gatehouse"
	iexpr "github.com/gatehouse-dev/gatehouse/internal/expr"
)

// CostLimit bounds the work of one evaluation, in CEL cost units: an
// expression past it fails instead of holding the event.
const CostLimit = iexpr.CostLimit

// Expr is a CEL expression written in gateway.yaml: its source, where it is
// written (Pos) and its compiled Program.
type Expr = iexpr.Expr

// Program is a compiled expression, safe for concurrent evaluation; Eval
// and EvalBool stop an expression past the cost limit.
type Program = iexpr.Program

// Vars are the variables an expression sees.
type Vars = iexpr.Vars

// SocketVars are the fields of the socket variable.
type SocketVars = iexpr.SocketVars

// Compile compiles src against the variables of gateway.yaml.
func Compile(src string) (*Program, error) { return iexpr.Compile(src) }

// VarsFor builds the variables of an event (or a CONNECT, with event "")
// from socket s; it decodes payload, so a payload that is not JSON is an
// invalid_payload error.
func VarsFor(s gatehouse.Socket, event string, payload *gatehouse.Payload) (Vars, error) {
	return iexpr.VarsFor(s, event, payload)
}
