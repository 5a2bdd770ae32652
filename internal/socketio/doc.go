// Package socketio implements Socket.IO v5 on top of engineio: the packet
// codec (with binary attachments), namespaces multiplexed over one Engine.IO
// session, CONNECT/CONNECT_ERROR, EVENT and ACK in both directions,
// DISCONNECT, and each namespace's room index. Decisions (may this socket
// connect, what does an event do) are left to Hooks, so the protocol never
// knows about guards, handlers or the cluster adapter.
package socketio
