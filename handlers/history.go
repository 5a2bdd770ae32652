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
	Define("history", Spec{
		Doc: "Acks the last messages kept of a room (namespaces[].history): {room, messages: [{offset, event, args}]}, oldest first.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "an expression of the handler fails on the payload, since is not an offset of the room's history, or the namespace keeps no history of that room"},
			{Code: "upstream_error", When: "the history cannot be read (Redis unreachable)"},
		},
	}, newHistoryHandler)
}

// historyOptions are the options of the "history" handler.
type historyOptions struct {
	Room  *expr.Expr `yaml:"room" doc:"A CEL expression naming the room, usually data.room." doctype:"CEL, string" docdefault:"**required**"`
	Since *expr.Expr `yaml:"since" doc:"A CEL expression giving the offset of the last message the client has, to get only the newer ones, such as data.?since.orValue(\"\")." doctype:"CEL, string"`
	Limit int        `yaml:"limit" doc:"The most messages answered, the newest; 0 answers all that the room keeps (its history's size)." default:"50" doctype:"integer ≥ 0"`
}

// historyHandler answers a room's history.
type historyHandler struct {
	room, since *expr.Expr
	limit       int
	reader      gatehouse.HistoryReader
	distributed bool
}

func newHistoryHandler(opts config.Options, o historyOptions) (Handler, error) {
	if o.Room == nil {
		return nil, opts.Errorf("history: room is required")
	}
	if err := checkRoomName("history: room", o.Room); err != nil {
		return nil, err
	}
	if o.Limit < 0 {
		return nil, opts.FieldError("limit", "history: limit must be 0 or more, got %d", o.Limit)
	}
	host := opts.Host()
	return &historyHandler{room: o.Room, since: o.Since, limit: o.Limit, reader: host.History(), distributed: host.Distributed()}, nil
}

// MayBlock implements Blocking: with the Redis adapter the history is read
// from Redis.
func (h *historyHandler) MayBlock() bool { return h.distributed }

// Handle reads the room's history and acks it.
func (h *historyHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	room, err := ev.room(ctx, "room", h.room)
	if err != nil {
		return nil, err
	}
	q := gatehouse.HistoryQuery{Limit: h.limit}
	if h.since != nil {
		v, err := ev.value(ctx, "since", h.since)
		if err != nil {
			return nil, err
		}
		since, ok := v.(string)
		if !ok && v != nil {
			return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "since must be a string, not %s", jsonKind(v))
		}
		q.Since = since
	}
	if h.reader == nil {
		return nil, errors.New("history: the host keeps no room history")
	}
	entries, err := h.reader.History(ctx, call.Socket.Namespace(), room, q)
	switch {
	case errors.Is(err, gatehouse.ErrNoHistory):
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "no history is kept of room %.64q", room)
	case err != nil && gatehouse.AsError(err).Code == gatehouse.CodeInternal:
		return nil, fmt.Errorf("%w (%v)", gatehouse.Errorf(gatehouse.CodeUpstreamError, "the room's history cannot be read now"), err)
	case err != nil:
		return nil, err
	}
	if entries == nil {
		entries = []gatehouse.HistoryEntry{}
	}
	return map[string]any{"room": room, "messages": entries}, nil
}
