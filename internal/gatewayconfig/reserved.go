package gatewayconfig

import "github.com/gatehouse-dev/gatehouse/internal/reserved"

// ReservedEventNames lists, sorted, the event names a config cannot
// declare: those Socket.IO gives its own events and those the gateway sends
// itself. The loader refuses the first; building the gateway refuses all.
func ReservedEventNames() []string { return reserved.Names() }
