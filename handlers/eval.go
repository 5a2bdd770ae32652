package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

// callEvaluator evaluates the CEL fields of one handler for one call. It
// builds the expression variables on first use and keeps them, so that a
// handler with several fields (data, to, reply) decodes the payload and
// copies the socket's rooms once, and a handler whose fields are all absent
// never does.
type callEvaluator struct {
	call  *Call
	vars  expr.Vars
	ready bool
}

// evaluatorFor returns an evaluator for call.
func evaluatorFor(call *Call) callEvaluator { return callEvaluator{call: call} }

// value evaluates an optional field: it returns nil when e is absent. field
// names the option in error messages. A failure to evaluate (a missing key
// in data, a wrong type) is the client's doing, so it is invalid_payload.
func (ev *callEvaluator) value(ctx context.Context, field string, e *expr.Expr) (any, error) {
	if e == nil || e.Program == nil {
		return nil, nil
	}
	if err := ev.prepare(field); err != nil {
		return nil, err
	}
	v, err := e.Program.Eval(ctx, ev.vars)
	if err != nil {
		if ctx.Err() != nil {
			// The event was abandoned (the client left, the server is
			// stopping); that is not the payload's fault.
			return nil, fmt.Errorf("evaluate %s: %w", field, err)
		}
		return nil, payloadError(field, err)
	}
	return v, nil
}

// prepare builds the variables on first use.
func (ev *callEvaluator) prepare(field string) error {
	if ev.ready {
		return nil
	}
	vars, err := expr.VarsFor(ev.call.Socket, ev.call.Event, ev.call.Payload)
	if err != nil {
		return payloadError(field, err)
	}
	vars.WithArgs(&ev.call.Args)
	vars.WithAuth(ev.call.Auth)
	ev.vars, ev.ready = vars, true
	return nil
}

// arg evaluates an optional field whose value is sent as one argument of
// an event or ack: binary values in it become attachments (see sendable).
func (ev *callEvaluator) arg(ctx context.Context, field string, e *expr.Expr) (any, error) {
	v, err := ev.value(ctx, field, e)
	if err != nil || v == nil || !e.Program.MayGiveBytes(&ev.vars) {
		return v, err
	}
	out, err := sendable(v)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.CodeInternal, "cannot send %s: %v", field, err)
	}
	return out, nil
}

// argList evaluates a field that gives the list of a packet's arguments,
// one per element, binary values as attachments. The bare variable `args`
// is the event's arguments as received, handed on without decoding them.
func (ev *callEvaluator) argList(ctx context.Context, field string, e *expr.Expr) (gatehouse.Args, error) {
	if e.Program.IsVariable("args") {
		return ev.call.Args, nil
	}
	v, err := ev.value(ctx, field, e)
	if err != nil {
		return gatehouse.Args{}, err
	}
	list, ok := v.([]any)
	if !ok {
		return gatehouse.Args{}, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "%s must be a list, not %s", field, jsonKind(v))
	}
	args, err := binaryArgs(list)
	if err != nil {
		return gatehouse.Args{}, gatehouse.Errorf(gatehouse.CodeInternal, "cannot send %s: %v", field, err)
	}
	return args, nil
}

// roomsChanged re-reads the socket's rooms after the handler joined or
// left one, so that a reply computed afterwards sees socket.rooms as they
// are now.
func (ev *callEvaluator) roomsChanged() {
	if ev.ready {
		ev.vars.Socket.Rooms = ev.call.Socket.Rooms()
	}
}

// room evaluates a field that names a room: its value must be a non-empty
// string.
func (ev *callEvaluator) room(ctx context.Context, field string, e *expr.Expr) (string, error) {
	v, err := ev.value(ctx, field, e)
	if err != nil {
		return "", err
	}
	room, ok := v.(string)
	if !ok {
		return "", gatehouse.Errorf(gatehouse.CodeInvalidPayload, "%s must be a string, not %s", field, jsonKind(v))
	}
	if room == "" {
		return "", gatehouse.Errorf(gatehouse.CodeInvalidPayload, "%s must not be empty", field)
	}
	return room, nil
}

// checkRoomName refuses at load a room expression whose type is known not
// to be a string, such as bytes (a binary value has no room name), so that
// validate names it rather than every event failing.
func checkRoomName(field string, e *expr.Expr) error {
	if e == nil {
		return nil
	}
	switch t := e.Program.ResultType(); t {
	case "string", "dyn":
		return nil
	default:
		return config.Errorf(e.Pos, "%s must give a string, the room's name, not %s", field, t)
	}
}

// payloadError keeps a coded error as it is and makes any other evaluation
// error an invalid_payload that says which field failed.
func payloadError(field string, err error) error {
	var coded *gatehouse.Error
	if errors.As(err, &coded) {
		return coded
	}
	return gatehouse.Errorf(gatehouse.CodeInvalidPayload, "cannot evaluate %s: %v", field, err)
}

// jsonKind names the JSON type of a decoded value, for error messages that
// clients read.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, uint64, uint32, uint:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case []byte:
		return "bytes"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// okReply is the default ack of handlers that change state: a new map per
// call, because a later handler of the same event receives it as Call.Reply.
func okReply() map[string]any { return map[string]any{"ok": true} }

// eventArgs computes the arguments of an emitted event: data as its one
// argument, args as the list of them, or, with neither, the event's own
// arguments as received.
func (ev *callEvaluator) eventArgs(ctx context.Context, data, args *expr.Expr) (any, error) {
	switch {
	case data != nil:
		return ev.arg(ctx, "data", data)
	case args != nil:
		return ev.argList(ctx, "args", args)
	}
	return ev.call.Args, nil
}
