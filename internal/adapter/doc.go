// Package adapter carries messages between the gateway processes of a
// cluster. It is the broker of the client / hub / broker split: it never sees
// a Socket.IO packet, only a small Message (namespace, rooms, event, raw
// JSON arguments, binary attachments, target user or socket), which it hands
// to the other nodes and, on each of them, to a Receiver that delivers it to
// the local sockets.
//
// Two implementations exist: Memory, for a single process, where there is no
// other node to reach, and Redis, which uses Redis pub/sub. The Redis adapter
// connects in the background and reconnects with backoff; while Redis is
// unreachable it reports itself down through State, drops cross-node
// messages with a counted error instead of queueing them, and logs the
// outage once.
package adapter
