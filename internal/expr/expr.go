package expr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// CostLimit bounds the work of one evaluation, in CEL cost units (roughly
// one per operation, more for string and list work). It is far above what a
// guard condition or a computed payload needs, and low enough that a
// comprehension over a huge payload stops within microseconds.
const CostLimit = 100_000

// interruptCheckFrequency is how many comprehension iterations run between
// two looks at the context, so that a cancelled event stops a long loop
// without paying for a check on every step.
const interruptCheckFrequency = 100

// sharedEnv is the one CEL environment every expression compiles in. It is
// built on first use and never changes afterwards.
var sharedEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(append(presenceEnv(),
		cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("data", cel.DynType),
		cel.Variable("event", cel.StringType),
		cel.Variable("socket", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(namespaceVar, cel.StringType),
		cel.Variable("args", cel.ListType(cel.DynType)),
		cel.Variable("handshake", cel.MapType(cel.StringType, cel.DynType)),
		cel.OptionalTypes(),
	)...)
})

// Env returns the CEL environment every expression compiles in, for tools
// that type-check expressions as the gateway does (gatehouse types).
func Env() (*cel.Env, error) { return sharedEnv() }

// Program is a compiled expression, safe for concurrent evaluation.
type Program struct {
	src        string
	program    cel.Program
	resultType *cel.Type
	// shortcut lets Eval answer the commonest expressions without the CEL
	// interpreter and its value conversions: a constant, a bare variable
	// (`user`, `data`) or a map literal of field reads.
	shortcut shortcut
	// interruptible is set when the expression loops (a comprehension:
	// all, exists, map, filter), the only place CEL looks at the context;
	// any other expression is evaluated without one, which spares the
	// context CEL derives per evaluation.
	interruptible bool
	// buildsBytes is set when some part of the expression is of type
	// bytes, so that its result may hold binary values even when the
	// event carried none (see MayGiveBytes).
	buildsBytes bool
}

// shortcut is what Eval can answer without running the program.
type shortcut struct {
	// constant holds the result of an expression that reads no variable,
	// computed at compile time; isConstant says whether there is one.
	constant   any
	isConstant bool
	// plan reads the result from the variables (see readPlan); nil when
	// the expression does more than read.
	plan *readPlan
}

// Compile parses and type-checks src. A syntax or type error is returned as
// a plain error whose message is CEL's explanation with the column in src
// (and the line when src spans several), for the caller to position in the
// config file.
func Compile(src string) (*Program, error) {
	env, err := sharedEnv()
	if err != nil {
		return nil, fmt.Errorf("building the expression environment: %w", err)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the expression is empty")
	}
	ast, issues := env.Compile(renameNamespace(src))
	if issues != nil && issues.Err() != nil {
		return nil, errors.New(issueText(src, issues))
	}
	program, err := env.Program(ast,
		cel.CostLimit(CostLimit),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("preparing the expression: %w", err)
	}
	return &Program{
		src: src, program: program, resultType: ast.OutputType(),
		shortcut: shortcutOf(ast, program), interruptible: loops(ast), buildsBytes: typesBytes(ast),
	}, nil
}

// shortcutOf recognises the expressions Eval answers without CEL. An
// expression is constant when evaluating it resolves no variable: CEL has
// no impure function, so its result is the same at every event.
func shortcutOf(ast *cel.Ast, program cel.Program) shortcut {
	probe := &constantProbe{}
	out, _, err := program.Eval(probe)
	if err == nil && !probe.resolved {
		if value, err := toJSON(out); err == nil {
			return shortcut{constant: value, isConstant: true}
		}
	}
	return shortcut{plan: planOf(ast.NativeRep().Expr())}
}

// loops reports whether the expression holds a comprehension.
func loops(ast *cel.Ast) bool {
	found := false
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind {
			found = true
		}
	}))
	return found
}

// typesBytes reports whether the checker gave any part of the expression
// a type that holds bytes (bytes, list(bytes), map(string, bytes)...).
func typesBytes(ast *cel.Ast) bool {
	for _, t := range ast.NativeRep().TypeMap() {
		if strings.Contains(t.String(), "bytes") {
			return true
		}
	}
	return false
}

// MayGiveBytes reports whether a result may hold []byte values: when the
// expression builds bytes, or when the event carried binary attachments,
// which data and args show as bytes. Callers that send the result check it
// for binary values only then, so that results of events without binary
// are sent without a walk.
func (p *Program) MayGiveBytes(vars *Vars) bool {
	return p.buildsBytes || (vars.Args != nil && len(vars.Args.Attachments) > 0)
}

// IsVariable reports whether the expression is the bare variable name, such
// as `args`, so that a caller can hand on what the variable stands for
// without evaluating it.
func (p *Program) IsVariable(name string) bool {
	plan := p.shortcut.plan
	return plan != nil && plan.kind == planVariable && plan.name == name
}

// constantProbe is an activation that knows no variable and notes whether
// the program asked for one.
type constantProbe struct{ resolved bool }

func (p *constantProbe) ResolveName(string) (any, bool) {
	p.resolved = true
	return nil, false
}

func (*constantProbe) Parent() interpreter.Activation { return nil }

// fast answers the expression without CEL when its shortcut allows; ok is
// false when the program must run.
func (p *Program) fast(vars *Vars) (value any, ok bool) {
	switch {
	case p.shortcut.isConstant:
		return p.shortcut.constant, true
	case p.shortcut.plan != nil:
		return p.shortcut.plan.read(vars)
	}
	return nil, false
}

// issueText renders CEL's issues on one line: "column 7: Syntax error: ...",
// with "line N, " in front when the source has several lines.
func issueText(src string, issues *cel.Issues) string {
	multiline := strings.Contains(src, "\n")
	parts := make([]string, 0, len(issues.Errors()))
	for _, issue := range issues.Errors() {
		msg := strings.Join(strings.Fields(issue.Message), " ")
		loc := issue.Location
		switch {
		case loc == nil || loc.Line() <= 0:
			parts = append(parts, msg)
		case multiline:
			parts = append(parts, fmt.Sprintf("line %d, column %d: %s", loc.Line(), loc.Column()+1, msg))
		default:
			parts = append(parts, fmt.Sprintf("column %d: %s", loc.Column()+1, msg))
		}
	}
	if len(parts) == 0 {
		return strings.Join(strings.Fields(issues.String()), " ")
	}
	return strings.Join(parts, "; ")
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// ResultType names the type the checker inferred for the result: "bool",
// "string", "map(string, dyn)", "dyn" (decided at evaluation) and so on.
func (p *Program) ResultType() string { return p.resultType.String() }

// MayBeBool reports whether the result can be a bool: its type is bool, or
// is only known at evaluation (dyn). Callers that need a condition use it to
// refuse `data.message` or `"yes"` at load instead of at every event.
func (p *Program) MayBeBool() bool {
	return p.resultType.IsExactType(cel.BoolType) || p.resultType.IsExactType(cel.DynType)
}

// Eval evaluates the program and returns its result as plain Go JSON values:
// map[string]any, []any, string, int64, float64, bool or nil, and []byte for
// binary values (CEL bytes), which callers send as binary attachments. It stops with
// an error when the cost limit is exceeded or ctx ends.
//
// The result is read-only: it may share memory with vars (the claims map,
// the decoded payload) and with the program (a constant), so that a value
// which is only encoded, as an ack or a broadcast, is never copied. A
// caller that hands the result to code which may change it (a plugin
// handler receiving it as Call.Reply) copies it first.
func (p *Program) Eval(ctx context.Context, vars Vars) (any, error) {
	if value, ok := p.fast(&vars); ok {
		return value, nil
	}
	// A copy, so that vars itself stays on the caller's stack when the
	// shortcut answers: what CEL receives escapes.
	escaping := vars
	out, err := p.eval(ctx, &escaping)
	if err != nil {
		return nil, err
	}
	return toJSON(out)
}

// EvalBool evaluates a condition; a result that is not a bool is an error.
func (p *Program) EvalBool(ctx context.Context, vars Vars) (bool, error) {
	if b, ok := p.shortcut.constant.(bool); ok && p.shortcut.isConstant {
		return b, nil
	}
	if p.shortcut.plan != nil {
		if v, ok := p.shortcut.plan.read(&vars); ok {
			if b, isBool := v.(bool); isBool {
				return b, nil
			}
		}
	}
	escaping := vars
	out, err := p.eval(ctx, &escaping)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the condition must give a bool, not %s", out.Type().TypeName())
	}
	return bool(b), nil
}

func (p *Program) eval(ctx context.Context, vars *Vars) (ref.Val, error) {
	var out ref.Val
	var err error
	if p.interruptible {
		out, _, err = p.program.ContextEval(ctx, activation{vars: vars})
	} else {
		out, _, err = p.program.Eval(activation{vars: vars})
	}
	if err != nil {
		return nil, evalError(err)
	}
	return out, nil
}

// evalError rewords the errors of the CEL runtime that users meet.
func evalError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "cost limit exceeded"):
		return fmt.Errorf("the expression exceeded its cost limit of %d", CostLimit)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the expression was interrupted: %w", err)
	}
	return err
}

// Vars are the variables an expression sees.
type Vars struct {
	// User are the socket's JWT claims; nil stands for {}.
	User map[string]any
	// Data is the decoded payload (generic JSON), nil for null.
	Data any
	// Event is the event name, "" at connect.
	Event string
	// Socket describes the socket.
	Socket SocketVars
	// Namespace is the namespace name.
	Namespace string
	// Args are the event's arguments as received, nil for none; the args
	// variable decodes them when an expression reads it. Their attachments
	// make the placeholders of data (and of args) bytes. Args and Auth are
	// pointers so that Vars, copied to the heap whenever CEL runs, stays
	// small.
	Args *gatehouse.Args
	// Auth is the CONNECT auth payload, handshake.auth, decoded when an
	// expression reads it; nil stands for {}.
	Auth *gatehouse.Payload
	// Presence gives presence.count and presence.member; nil reads as
	// empty rooms.
	Presence RoomPresence
}

// SocketVars are the fields of the socket variable.
type SocketVars struct {
	ID        string
	Rooms     []string
	IP        string
	Transport string
}

// VarsFor builds the variables for an event (or a connect, with event "")
// of socket s. It decodes payload, so a payload that is not JSON is an
// invalid_payload error. s may be nil, for an evaluation without a socket.
func VarsFor(s gatehouse.Socket, event string, payload *gatehouse.Payload) (Vars, error) {
	data, err := payload.Data()
	if err != nil {
		return Vars{}, err
	}
	vars := Vars{Data: data, Event: event}
	if s != nil {
		vars.User = map[string]any(s.Claims())
		vars.Namespace = s.Namespace()
		vars.Socket = SocketVars{ID: s.ID(), Rooms: s.Rooms(), IP: s.RemoteIP(), Transport: s.Transport()}
		if p, ok := s.(RoomPresence); ok {
			vars.Presence = p
		}
	}
	return vars, nil
}

// WithArgs sets the event's arguments and, when they carry binary
// attachments, shows each placeholder of data as the bytes it refers to.
func (v *Vars) WithArgs(args *gatehouse.Args) {
	v.Args = args
	if args == nil {
		return
	}
	if len(args.Attachments) > 0 {
		v.Data = resolveBinary(v.Data, args.Attachments)
	}
}

// WithAuth sets handshake.auth from the CONNECT auth payload; a nil or
// absent payload is {}. It is decoded when an expression first reads it.
func (v *Vars) WithAuth(auth *gatehouse.Payload) { v.Auth = auth }

// noClaims is what user resolves to for a socket without a token; it is
// never written to.
var noClaims = map[string]any{}

// activation resolves the variables straight from Vars, without the map a
// generic activation would allocate per evaluation; socket, args and
// handshake are built only when the expression reads them.
type activation struct{ vars *Vars }

func (a activation) ResolveName(name string) (any, bool) {
	switch name {
	case "user":
		if a.vars.User == nil {
			return noClaims, true
		}
		return a.vars.User, true
	case "data":
		if a.vars.Data == nil {
			return types.NullValue, true
		}
		return a.vars.Data, true
	case "event":
		return types.String(a.vars.Event), true
	case namespaceVar:
		return types.String(a.vars.Namespace), true
	case "socket":
		rooms := a.vars.Socket.Rooms
		if rooms == nil {
			rooms = []string{}
		}
		return map[string]any{
			"id":        a.vars.Socket.ID,
			"rooms":     rooms,
			"ip":        a.vars.Socket.IP,
			"transport": a.vars.Socket.Transport,
			"namespace": a.vars.Namespace,
		}, true
	case "args":
		var received gatehouse.Args
		if a.vars.Args != nil {
			received = *a.vars.Args
		}
		args, err := decodeArgs(received, a.vars.Data)
		if err != nil {
			return types.WrapErr(argsError(err)), true
		}
		return args, true
	case "presence":
		return presenceVal{src: a.vars.Presence}, true
	case "handshake":
		auth, err := a.vars.auth()
		if err != nil {
			return types.WrapErr(fmt.Errorf("reading handshake.auth: %w", err)), true
		}
		return map[string]any{"auth": auth}, true
	}
	return nil, false
}

// auth is handshake.auth decoded: {} when the client sent no auth payload.
func (v *Vars) auth() (any, error) {
	data, err := v.Auth.Data()
	if data == nil || err != nil {
		return noClaims, err
	}
	return data, nil
}

func (activation) Parent() interpreter.Activation { return nil }

// toJSON converts a CEL value into the plain values encoding/json produces
// and consumes.
func toJSON(v ref.Val) (any, error) {
	switch v := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(v), nil
	case types.Int:
		return int64(v), nil
	case types.Uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v), nil
		}
		return float64(v), nil
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("the result %v is not a number JSON can carry", f)
		}
		return f, nil
	case types.String:
		return string(v), nil
	case types.Bytes:
		// Bytes stay bytes: the sender makes them binary attachments.
		return []byte(v), nil
	case types.Timestamp:
		return v.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return v.Duration.String(), nil
	case *types.Optional:
		if !v.HasValue() {
			return nil, nil
		}
		return toJSON(v.GetValue())
	case *types.Err:
		return nil, v
	case *types.Unknown:
		return nil, errors.New("the expression refers to an unknown value")
	case traits.Mapper:
		out := make(map[string]any, mapSize(v))
		for it := v.Iterator(); it.HasNext() == types.True; {
			key := it.Next()
			name, ok := key.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string, as JSON object keys must be", key)
			}
			elem, err := toJSON(v.Get(key))
			if err != nil {
				return nil, err
			}
			out[string(name)] = elem
		}
		return out, nil
	case traits.Lister:
		n, _ := v.Size().(types.Int)
		out := make([]any, 0, int(n))
		for it := v.Iterator(); it.HasNext() == types.True; {
			elem, err := toJSON(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, elem)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s cannot be converted to JSON", v.Type().TypeName())
}

func mapSize(m traits.Mapper) int {
	n, _ := m.Size().(types.Int)
	return int(n)
}

// Expr is a CEL expression in gateway.yaml: its source, where it is written
// and its compiled program. Option structs of guards and handlers declare
// Expr (or *Expr, for an optional one) fields; the config decoder compiles
// them at load, so a broken expression is a positioned config error.
type Expr struct {
	Src     string
	Pos     gatewayconfig.Pos
	Program *Program
}

// UnmarshalScalar compiles src, written at pos. Any scalar is taken as
// CEL source, so `value: 42` and `value: true` are the constants they look
// like.
func (e *Expr) UnmarshalScalar(src string, pos gatewayconfig.Pos) error {
	program, err := Compile(src)
	if err != nil {
		return gatewayconfig.Errorf(pos, "invalid expression: %s", err.Error())
	}
	*e = Expr{Src: src, Pos: pos, Program: program}
	return nil
}
