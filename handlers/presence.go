package handlers

import (
	"context"
	"errors"
	"fmt"

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
	room        *expr.Expr
	reader      gatehouse.PresenceReader
	distributed bool
}

func newPresenceHandler(opts config.Options, o presenceOptions) (Handler, error) {
	if o.Room == nil {
		return nil, opts.Errorf("presence: room is required")
	}
	if err := checkRoomName("presence: room", o.Room); err != nil {
		return nil, err
	}
	host := opts.Host()
	return &presenceHandler{room: o.Room, reader: host.Presence(), distributed: host.Distributed()}, nil
}

// MayBlock implements Blocking: with the Redis adapter the other nodes are
// asked over the network.
func (h *presenceHandler) MayBlock() bool { return h.distributed }

// Handle asks who is in the room and acks it.
func (h *presenceHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	room, err := ev.room(ctx, "room", h.room)
	if err != nil {
		return nil, err
	}
	if h.reader == nil {
		return nil, errors.New("presence: the host keeps no presence")
	}
	p, err := h.reader.Presence(ctx, call.Socket.Namespace(), room)
	switch {
	case errors.Is(err, gatehouse.ErrNoPresence):
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "no presence is kept of room %.64q", room)
	case err != nil && gatehouse.AsError(err).Code == gatehouse.CodeInternal:
		return nil, fmt.Errorf("%w (%v)", gatehouse.Errorf(gatehouse.CodeUpstreamError, "the room's members cannot be asked now"), err)
	case err != nil:
		return nil, err
	}
	answer := map[string]any{"room": p.Room, "members": p.Members, "count": p.Count, "sockets": p.Sockets}
	if p.Partial != "" {
		answer["partial"] = p.Partial
	}
	return answer, nil
}
