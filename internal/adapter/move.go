package adapter

import "context"

// Kinds of the messages that move a session from the node holding it to the
// node that received its WebSocket upgrade. Socket is the session id (the
// acknowledged socket's id for KindMoveAck).
const (
	// KindMoveProbe asks every other node to mark the session as probed
	// from afar; the holder answers with Count 1, the others with 0.
	KindMoveProbe Kind = "move_probe"
	// KindMoveTake asks every other node to let the session go; the
	// holder answers with the session encoded as Args[0], or with Event
	// naming the bound that refused the move (move_queue); the others with
	// an empty answer. Event is the move's id: the asking node finds its
	// own request in the order of the messages it receives (see Echoer).
	KindMoveTake Kind = "move_take"
	// KindMoveForward carries what was sent to the session on its old node
	// after it left: Attachments are the Engine.IO messages, Args[0] a
	// JSON array of which of them are binary.
	KindMoveForward Kind = "move_forward"
	// KindMoveAck carries an acknowledgement the client sent on the new
	// node for an emit made on the old one: Namespace, Socket, Count (the
	// ack id) and Args.
	KindMoveAck Kind = "move_ack"
)

// Echoer is implemented by a Receiver that wants to see its own node's
// messages, in the order the other nodes receive them among theirs: with
// Redis, every node receives the messages of the cluster, request and
// stream channels in one order, which a node's own messages take part in.
// Echo is called where Deliver or Answer would be for another node's.
type Echoer interface {
	Echo(ctx context.Context, msg *Message)
}
