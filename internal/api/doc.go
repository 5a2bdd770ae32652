// Package api is the server API for backends (contract C4): HTTP endpoints,
// authenticated by an API key, that emit events to sockets, disconnect them
// and count the members of a room, on every node of the cluster.
//
// The package knows HTTP and JSON only; what an emit or a disconnect means is
// the Cluster's business, which the gateway implements on top of its
// Socket.IO server and adapter.
package api
