package lifecycle

import (
	"encoding/json"
	"time"
)

// Kinds of event, as the backend sees them in the "type" member.
const (
	KindConnect      = "connect"
	KindDisconnect   = "disconnect"
	KindRoomOccupied = "room_occupied"
	KindRoomVacated  = "room_vacated"
)

// Kinds lists every kind, in the order the docs give them.
var Kinds = []string{KindConnect, KindDisconnect, KindRoomOccupied, KindRoomVacated}

// Event is one lifecycle event. The Sender sets ID, Node and Seq; Time is
// the Sender's clock unless the caller set it (room events carry the time
// of the shared Redis clock, so that one room's events from several nodes
// can be ordered).
type Event struct {
	// ID is unique in the cluster ("<node>-<seq>"): a backend that sees an
	// ID twice (a retry whose answer was lost) can drop the second.
	ID string `json:"id"`
	// Type is one of the Kind constants.
	Type string `json:"type"`
	// Node is the gateway process that sent the event.
	Node string `json:"node"`
	// Seq counts the node's events from 1, those that overflowed the
	// buffer included, so that a gap tells the backend some were lost.
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Socket    string    `json:"socket,omitempty"`
	// User is the socket's subject claim ("sub"), when it has one.
	User string `json:"user,omitempty"`
	Room string `json:"room,omitempty"`
	// Reason says why a socket disconnected ("transport close", "ping
	// timeout", "server shutting down", ...).
	Reason string `json:"reason,omitempty"`
}

// eventOverhead is what an event costs beside its strings: the struct, its
// share of the buffer and its JSON members' names, rounded up.
const eventOverhead = 256

// size is the bytes the event is counted for against the buffer's budget.
func (e *Event) size() int {
	return eventOverhead + len(e.ID) + len(e.Type) + len(e.Node) + len(e.Namespace) +
		len(e.Socket) + len(e.User) + len(e.Room) + len(e.Reason)
}

// encodeBatch is the body of one POST: a JSON array of events.
func encodeBatch(batch []Event) ([]byte, error) {
	return json.Marshal(batch)
}
