package handlers

import (
	"context"

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
	roomReader
	since  *expr.Expr
	limit  int
	reader gatehouse.HistoryReader
}

func newHistoryHandler(opts config.Options, o historyOptions) (Handler, error) {
	r, err := newRoomReader(opts, roomReader{kind: "history", what: "history", room: o.Room,
		missing: gatehouse.ErrNoHistory, unreadable: "the room's history cannot be read now"})
	if err != nil {
		return nil, err
	}
	if o.Limit < 0 {
		return nil, opts.FieldError("limit", "history: limit must be 0 or more, got %d", o.Limit)
	}
	return &historyHandler{roomReader: r, since: o.Since, limit: o.Limit, reader: opts.Host().History()}, nil
}

// Handle reads the room's history and acks it.
func (h *historyHandler) Handle(ctx context.Context, call *Call) (any, error) {
	ev := evaluatorFor(call)
	room, err := h.roomOf(ctx, &ev)
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
		return nil, h.noReader()
	}
	entries, err := h.reader.History(ctx, call.Socket.Namespace(), room, q)
	if err != nil {
		return nil, h.refusal(room, err)
	}
	if entries == nil {
		entries = []gatehouse.HistoryEntry{}
	}
	return map[string]any{"room": room, "messages": entries}, nil
}
