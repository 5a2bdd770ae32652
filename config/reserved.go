package config

import "sort"

// reservedEvents are names Socket.IO gives its own events, or that the
// gateway sends itself; a config cannot declare them and a client cannot
// emit them. The value is a hint for the error, "" when there is none.
var reservedEvents = map[string]string{
	"connect":        "write its handlers under on_connect",
	"disconnect":     "write its handlers under on_disconnect",
	"connect_error":  "",
	"disconnecting":  "",
	"newListener":    "",
	"removeListener": "",
}

// ReservedEventNames lists, sorted, the event names a config cannot
// declare and a client cannot emit.
func ReservedEventNames() []string {
	names := make([]string, 0, len(reservedEvents))
	for n := range reservedEvents {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
