package adapter

import (
	"context"
	"encoding/json"
	"errors"
)

// Kind says what a Message asks the receiving nodes to do.
type Kind string

// Message kinds.
const (
	// KindBroadcast delivers Event to the sockets of Namespace that are in
	// any of Rooms (all of them when Rooms is empty), or to the sockets of
	// User when User is set, minus the socket ids in Except.
	KindBroadcast Kind = "broadcast"
	// KindDisconnect disconnects the sockets of User, or the socket whose id
	// is Socket, in Namespace or, when Namespace is empty, in every
	// namespace.
	KindDisconnect Kind = "disconnect"
	// KindRoomSize asks every other node how many of its sockets are in
	// Rooms[0] of Namespace; each answers with Count.
	KindRoomSize Kind = "room_size"
	// KindAdmin asks every other node for its part of the operator's
	// view, named by Event; each answers with it, encoded, as Args[0].
	KindAdmin Kind = "admin"
	// KindAnswer is a node's answer to a request, sent back to the node
	// that asked, with the request's ID.
	KindAnswer Kind = "answer"
)

// Message is what travels between nodes. The adapter sets Node on the way
// out; everything else is the sender's. Args are the event's arguments as
// raw JSON, where binary values are Socket.IO placeholders
// ({"_placeholder":true,"num":N}) that refer to Attachments[N], exactly as
// gatehouse.Args holds them; the JSON encoding carries attachments as
// base64.
type Message struct {
	Kind        Kind              `json:"kind"`
	Node        string            `json:"node"`
	ID          string            `json:"id,omitempty"`
	Namespace   string            `json:"nsp,omitempty"`
	Rooms       []string          `json:"rooms,omitempty"`
	Except      []string          `json:"except,omitempty"`
	User        string            `json:"user,omitempty"`
	Socket      string            `json:"socket,omitempty"`
	Event       string            `json:"event,omitempty"`
	Args        []json.RawMessage `json:"args,omitempty"`
	Attachments [][]byte          `json:"attachments,omitempty"`
	Count       int               `json:"count,omitempty"`
	// Offset is the message's place in its namespace's stream, set on
	// broadcasts recorded for connection state recovery (Recorder).
	Offset string `json:"offset,omitempty"`
	// Seq is the number the sending node gave a broadcast it delivered to
	// its own sockets first, so that a session moving between nodes gets
	// it once (see KindMoveTake); 0 when none.
	Seq uint64 `json:"seq,omitempty"`
}

// Receiver is the local side of the adapter: it acts on the messages of
// other nodes. Its methods are called from the adapter's receiving goroutine
// one at a time, so they must not block for long.
type Receiver interface {
	// Deliver acts on a broadcast or a disconnect sent by another node.
	Deliver(ctx context.Context, msg *Message)
	// Answer answers another node's request (such as KindRoomSize); a nil
	// answer sends nothing, and the asking node waits for it in vain.
	Answer(ctx context.Context, req *Message) *Message
}

// Adapter connects one gateway process to the others. Its methods are safe
// for concurrent use.
type Adapter interface {
	// NodeID identifies this process among the nodes of the cluster.
	NodeID() string
	// Distributed reports whether other nodes may exist: whether
	// broadcasts need forwarding, and whether a handler that publishes
	// through the adapter may wait on a network.
	Distributed() bool
	// Start begins receiving the other nodes' messages and hands them to r,
	// until Close. It returns at once: a distributed adapter connects in
	// the background and keeps reconnecting while its backend is down.
	Start(r Receiver)
	// Send hands msg to every other node. It returns ErrUnavailable (with
	// the cause) without waiting when the adapter is down: the message is
	// dropped and counted, never queued.
	Send(ctx context.Context, msg *Message) error
	// Request sends req to every other node and gathers their answers, until
	// each node that was listening has answered or ctx ends (then the error
	// wraps ErrTimeout and the answers are those that came).
	Request(ctx context.Context, req *Message) ([]*Message, error)
	// Publish sends payload to the backends listening on channel (with
	// Redis, the pub/sub channel "<prefix>:publish:<channel>"). It
	// implements handlers.Publisher.
	Publish(ctx context.Context, channel string, payload []byte) error
	// State reports whether other nodes can be reached and, when not, why.
	State() (up bool, cause string)
	// Errors counts the failures since start: messages dropped or not
	// published, connection losses, undecodable messages.
	Errors() uint64
	// Close stops receiving and releases the connection. Messages sent
	// after Close fail with ErrClosed.
	Close() error
	// Recorder keeps the streams and sessions of connection state
	// recovery, in the process or in the cluster's shared store.
	Recorder
	// HistoryKeeper keeps the rooms' history, the same way.
	HistoryKeeper
}

var (
	// ErrUnavailable is returned while the adapter cannot reach the other
	// nodes; the message was dropped.
	ErrUnavailable = errors.New("adapter: other nodes unreachable")
	// ErrTimeout is returned by Request when not every node answered in
	// time.
	ErrTimeout = errors.New("adapter: not every node answered in time")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("adapter: closed")
)
