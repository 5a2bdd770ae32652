// Package admin is the operator's view of a running gateway: an embedded
// page and the JSON endpoints it reads (live sockets per namespace and
// node, rooms and their sizes, the last refusals with their codes, the
// events' counts and handler latencies), all behind the server API keys.
//
// The package knows HTTP, JSON and its own snapshot types. It does not know
// sockets, adapters or metrics: the gateway describes its node through the
// Node interface and reaches the other nodes through Peers, so that one
// request shows the whole cluster. Disconnecting is left to the server API
// (POST /api/v1/disconnect), which the page calls with the same key.
package admin
