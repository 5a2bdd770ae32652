// Package reserved declares, in one place, the event names that Socket.IO
// and the gateway give a meaning of their own, so that the protocol codec,
// the config loader, the gateway's build and the JSON Schema refuse the same
// names.
package reserved

import "sort"

// The events the gateway itself emits to clients.
const (
	// Exception carries the refusal of an event sent without an ack.
	Exception = "exception"
	// AuthRefresh is the event a client sends a fresh token with.
	AuthRefresh = "auth:refresh"
	// AuthExpiring warns a socket that its token expires soon.
	AuthExpiring = "auth:expiring"
	// PresenceJoin tells a room's sockets that a user joined it.
	PresenceJoin = "presence:join"
	// PresenceLeave tells a room's sockets that a user left it.
	PresenceLeave = "presence:leave"
)

// protocolEvents are the names socket.io-client gives its own events, with
// a hint for a config that declares one ("" when there is none).
func protocolEvents() map[string]string {
	return map[string]string{
		"connect":        "write its handlers under on_connect",
		"disconnect":     "write its handlers under on_disconnect",
		"connect_error":  "",
		"disconnecting":  "",
		"newListener":    "",
		"removeListener": "",
	}
}

// Protocol returns the set of names the Socket.IO protocol reserves: no
// packet may carry them as an event name, in either direction.
func Protocol() map[string]struct{} {
	set := map[string]struct{}{}
	for name := range protocolEvents() {
		set[name] = struct{}{}
	}
	return set
}

// IsProtocol reports whether the Socket.IO protocol reserves name, and the
// hint for a config that declares it.
func IsProtocol(name string) (hint string, ok bool) {
	hint, ok = protocolEvents()[name]
	return hint, ok
}

// Gateway returns the set of names a config cannot declare as events: the
// protocol's and those of the gateway's own events.
func Gateway() map[string]struct{} {
	set := Protocol()
	for _, name := range []string{Exception, AuthRefresh, AuthExpiring, PresenceJoin, PresenceLeave} {
		set[name] = struct{}{}
	}
	return set
}

// Names lists, sorted, every name of Gateway.
func Names() []string {
	set := Gateway()
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
