// Package tsgen writes the TypeScript types of a gateway.yaml for clients
// that use socket.io-client: for each namespace, the events a client may
// send (ClientToServerEvents) with their payloads from the events' schema
// guards and their acks from the handlers' replies, and the events the
// gateway sends (ServerToClientEvents), as socket.io-client's
// Socket<ServerToClientEvents, ClientToServerEvents> expects them.
//
// What the config does not say is typed unknown rather than guessed: a
// payload without a schema guard, the answer of a webhook or of a plugin
// handler, a claim other than sub. Every ack may also be the refusal of
// contract C2, {error: {code, message}}.
package tsgen
