// Package sioclient is a small Socket.IO v5 client over an Engine.IO v4
// WebSocket, for the gateway's own tests and soak runs: it connects
// namespaces, emits events with or without acknowledgements, answers the
// server's pings and reports how the connection ended. It speaks text
// packets only.
package sioclient
