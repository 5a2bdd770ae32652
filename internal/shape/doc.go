// Package shape tells what the values of a gateway.yaml's events are, as far
// as the config says: the payload of an event from its schema guards, the
// value of a CEL expression from its literals, the fields it reads and CEL's
// own types, the ack a handler sends and the event it emits. It is what
// `gatehouse types` (internal/tsgen) writes as TypeScript and
// `gatehouse asyncapi` (internal/asyncapi) as JSON Schema, so that both
// describe the same shapes.
//
// It does not render anything, nor read the config beyond the options of
// handlers and schema guards; what the config does not say is Unknown
// rather than guessed.
package shape
