// Package metrics holds a gateway's Prometheus metrics: one registry per
// gateway (never the process-wide default, so that two gateways in one
// process, as in tests, never mix their counts), the Go and process
// collectors, and narrow methods the runtime calls as connections, events
// and broadcasts flow.
//
// Label values come from the config (namespaces, declared events, guard
// names, handler types) or from small fixed sets (transports, error codes),
// so that no client can grow the number of series: an event the config
// does not declare is counted under UnknownEvent.
//
// A nil *Metrics is valid and records nothing, so that components built
// without metrics need no special case.
package metrics
