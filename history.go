package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
)

// HistoryReader reads what the gateway keeps of the messages sent to rooms
// (namespaces[].history in gateway.yaml): the last messages of a room, for
// a client that just arrived. With the Redis adapter the history is the
// cluster's; its calls then go over the network (see Blocking).
type HistoryReader interface {
	// History returns the messages kept of room in namespace, oldest
	// first: those after q.Since when it is set, the last q.Limit of them
	// when it is not zero. It fails with ErrNoHistory when the namespace
	// keeps no history of that room.
	History(ctx context.Context, namespace, room string, q HistoryQuery) ([]HistoryEntry, error)
}

// HistoryQuery selects messages of a room's history.
type HistoryQuery struct {
	// Since, when set, is the offset of the last message already seen.
	Since string
	// Limit, when above zero, keeps the last Limit messages selected.
	Limit int
}

// HistoryEntry is one message kept: its offset in the room's history, its
// event name and arguments.
type HistoryEntry struct {
	Offset string            `json:"offset"`
	Event  string            `json:"event"`
	Args   []json.RawMessage `json:"args"`
}

// ErrNoHistory is returned for a room whose namespace declares no history
// matching it.
var ErrNoHistory = errors.New("no history is kept of this room")
