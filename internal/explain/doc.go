// Package explain describes what a gateway.yaml makes the gateway do, for
// `gatehouse explain`: for each namespace and event, the chain as the
// gateway builds and runs it (where the token is read, the connect guards,
// each event's guards in order with their options, the handlers), which
// steps may block, the limits that apply, and the error codes (contract C2)
// a client can get from each step. Secrets are masked.
//
// The description is built from gateway.BuildPlan, which builds every guard
// and handler with the functions `gatehouse run` uses, so that what is told
// is what runs.
package explain
