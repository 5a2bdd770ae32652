// Package gatehouse holds the few types that the runtime, guards and handlers
// share: the view of a connected socket, the arguments of an event and the
// coded errors of the error contract (C2).
//
// The runtime itself lives in internal packages; plugin authors import this
// package together with guards and handlers, and build their own binary with
// cli.Main.
package gatehouse
