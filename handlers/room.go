package handlers

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("join", Spec{
		Doc: "Adds the caller to a room; acks {ok: true, room}.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload"},
			{Code: "limit_exceeded", When: "the socket is in server.limits.max_rooms_per_socket rooms already"},
		},
	}, newRoomFactory(joinRoom))
	Define("leave", Spec{
		Doc:      "Removes the caller from a room; acks {ok: true, room}.",
		Refusals: []Refusal{{Code: "invalid_payload", When: "an expression of the handler fails on the payload"}},
	}, newRoomFactory(leaveRoom))
}

// roomOptions are the options of the "join" and "leave" handlers.
type roomOptions struct {
	// Room names the room, usually from the payload (data.room).
	Room *expr.Expr `yaml:"room" doc:"A CEL expression naming the room, usually data.room." doctype:"CEL, string" docdefault:"**required**"`
	// Reply is the ack; absent, {"ok": true, "room": <room>}.
	Reply *expr.Expr `yaml:"reply" doc:"A CEL expression giving the ack; absent, {ok: true, room: <room>}." docdefault:"\x60{\"ok\": true, \"room\": ROOM}\x60"`
}

// roomAction is what a room handler does to the socket.
type roomAction struct {
	name  string
	apply func(s gatehouse.Socket, room string) error
}

var (
	joinRoom  = roomAction{name: "join", apply: gatehouse.Socket.Join}
	leaveRoom = roomAction{name: "leave", apply: gatehouse.Socket.Leave}
)

// roomHandler adds the caller to a room or removes it from one.
type roomHandler struct {
	action roomAction
	room   *expr.Expr
	reply  *expr.Expr
}

// newRoomFactory returns the factory of the join or leave handler.
func newRoomFactory(action roomAction) func(config.Options, roomOptions) (Handler, error) {
	return func(opts config.Options, o roomOptions) (Handler, error) {
		if o.Room == nil {
			return nil, opts.Errorf("%s: room is required", action.name)
		}
		if err := checkRoomName(action.name+": room", o.Room); err != nil {
			return nil, err
		}
		return &roomHandler{action: action, room: o.Room, reply: o.Reply}, nil
	}
}

// MayBlock implements Blocking: joining and leaving only update the room
// index.
func (h *roomHandler) MayBlock() bool { return false }

// Handle joins or leaves the room, then computes the ack.
func (h *roomHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	room, err := ev.room(ctx, "room", h.room)
	if err != nil {
		return nil, err
	}
	if err := h.action.apply(call.Socket, room); err != nil {
		// The room name may be the client's: quoted cut to 64 characters.
		return nil, fmt.Errorf("%s room %.64q for socket %s: %w", h.action.name, room, call.Socket.ID(), err)
	}
	ev.roomsChanged()
	if h.reply == nil {
		return map[string]any{"ok": true, "room": room}, nil
	}
	return ev.arg(ctx, "reply", h.reply)
}
