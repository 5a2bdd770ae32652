package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

// roomReader is the part the handlers that read a room through the host
// share (history, presence): a room named by an expression, a reader the
// host may not have, and the reader's errors made C2 refusals. It uses the
// host and the expressions only as a plugin could.
type roomReader struct {
	// kind names the handler in its errors: "history", "presence".
	kind string
	// what names what is read, in the refusals clients see: "history",
	// "presence" ("no history is kept of room ...").
	what string
	// unreadable is the upstream_error message while the reader fails.
	unreadable string
	// missing is the reader's error for a room it keeps nothing of.
	missing     error
	room        *expr.Expr
	distributed bool
}

// newRoomReader checks r's room option, required and naming a room, and
// notes whether the host's readers go over the network.
func newRoomReader(opts config.Options, r roomReader) (roomReader, error) {
	if r.room == nil {
		return roomReader{}, opts.Errorf("%s: room is required", r.kind)
	}
	if err := checkRoomName(r.kind+": room", r.room); err != nil {
		return roomReader{}, err
	}
	r.distributed = opts.Host().Distributed()
	return r, nil
}

// MayBlock implements Blocking: with a distributed host (the Redis
// adapter) the reader waits on the network.
func (r *roomReader) MayBlock() bool { return r.distributed }

// roomOf evaluates the room's name for the call; a failure is the
// payload's (invalid_payload).
func (r *roomReader) roomOf(ctx context.Context, ev *callEvaluator) (string, error) {
	return ev.room(ctx, "room", r.room)
}

// noReader is the error of a call on a host without the reader (a host
// made for tests without one): internal, not a client's doing.
func (r *roomReader) noReader() error {
	return fmt.Errorf("%s: the host keeps no %s", r.kind, r.what)
}

// refusal makes the reader's error of room what the client is told: a room
// the namespace keeps nothing of is invalid_payload, a reader that cannot
// answer now (an internal error: Redis unreachable) is upstream_error, and
// a coded error is kept as it is.
func (r *roomReader) refusal(room string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, r.missing):
		return gatehouse.Errorf(gatehouse.CodeInvalidPayload, "no %s is kept of room %.64q", r.what, room)
	case gatehouse.AsError(err).Code == gatehouse.CodeInternal:
		return fmt.Errorf("%w (%v)", gatehouse.Errorf(gatehouse.CodeUpstreamError, "%s", r.unreadable), err)
	default:
		return err
	}
}
