// Package expr is the one expression language of gateway.yaml: CEL
// (google/cel-go) with the variables user, data, event, socket and
// namespace.
//
// Expressions compile once, at load, in a single shared environment, so that
// a syntax or type error is a config error at the expression's position and
// evaluation per event costs no parsing. Evaluation has a cost limit and
// stops when its context ends, so that a pathological expression cannot hold
// a connection's goroutine. Results come back as plain Go JSON values, ready
// to be marshalled into packets.
package expr
