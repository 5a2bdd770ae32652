// Package soak holds the gateway's soak test: thousands of WebSocket
// clients connecting, sending acknowledged events and leaving again against
// a real gateway on loopback, after which the process's goroutines and heap
// must be back near where they started. `make test` runs it for a few
// seconds; `make soak` for a minute (SOAK_DURATION, SOAK_CONNS).
//
// It is not built with the race detector, which caps a process at 8128
// live goroutines, fewer than the test needs.
package soak
