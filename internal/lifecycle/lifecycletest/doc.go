// Package lifecycletest provides the hooks' backend for tests: a real HTTP
// server on a loopback address that receives lifecycle batches, which a test
// can stop and start again (a backend restart), make answer with a status,
// or make hang. It is generic in the event type so that the lifecycle
// package's own tests can use it without an import cycle.
package lifecycletest
