package handlers

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("presence", Spec{
		Doc: "Acks who is in a room (namespaces[].presence): {room, members: [{user, claims, sockets}], count, sockets}, members sorted by user id.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload, or the namespace declares no presence of that room"},
			{Code: "upstream_error", When: "the other gateways cannot be asked (Redis unreachable)"},
		},
	}, newPresenceHandler)
}

// presenceOptions are the options of the "presence" handler.
type presenceOptions struct {
	Room *expr.Expr `yaml:"room" doc:"A CEL expression naming the room, usually data.room." doctype:"CEL, string" docdefault:"**required**"`
}

// presenceHandler answers a room's members.
type presenceHandler struct {
	roomReader
	reader gatehouse.PresenceReader
}

func newPresenceHandler(opts config.Options, o presenceOptions) (Handler, error) {
	r, err := newRoomReader(opts, roomReader{kind: "presence", what: "presence", room: o.Room,
		missing: gatehouse.ErrNoPresence, unreadable: "the room's members cannot be asked now"})
	if err != nil {
		return nil, err
	}
	return &presenceHandler{roomReader: r, reader: opts.Host().Presence()}, nil
}

// Handle asks who is in the room and acks it.
func (h *presenceHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	room, err := h.roomOf(ctx, &ev)
	if err != nil {
		return nil, err
	}
	if h.reader == nil {
		return nil, h.noReader()
	}
	p, err := h.reader.Presence(ctx, call.Socket.Namespace(), room)
	if err != nil {
		return nil, h.refusal(room, err)
	}
	answer := map[string]any{"room": p.Room, "members": p.Members, "count": p.Count, "sockets": p.Sockets}
	if p.Partial != "" {
		answer["partial"] = p.Partial
	}
	return answer, nil
}
