// Package lifecycle tells a backend what happens to the gateway's sockets
// and rooms: a socket connected, a socket disconnected (with the reason), a
// room got its first member in the cluster, a room lost its last one.
//
// A Sender keeps the events in a buffer bounded in count and in bytes and
// posts them as JSON arrays from one goroutine, in batches, retrying with
// capped exponential backoff; the gateway only appends to the buffer, so it
// never waits on the backend. What does not fit is counted and logged (a
// line at once, then at most one per interval), never queued elsewhere.
//
// Rooms turns the per-node changes of room membership into cluster-wide
// ones. On one node a room is occupied when it gets its first local member;
// on a cluster an Occupancy (the Redis adapter) keeps, per room, the set of
// nodes with members, and only the node whose change empties or fills that
// set sends the event. Each node holds a lease there; the rooms of a node
// whose lease lapsed (a crash) are vacated by the first node to sweep.
//
// The package knows nothing of Socket.IO packets, of the config file or of
// Redis commands: the gateway calls it with names, and the adapter answers
// its Occupancy questions.
package lifecycle
