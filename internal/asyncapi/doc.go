// Package asyncapi writes an AsyncAPI 3.0 document (JSON) of a gateway.yaml,
// for `gatehouse asyncapi`: the server and where it reads tokens (the
// security schemes of auth.jwt), a channel per namespace and one for the
// rooms of a namespace whose handlers join or send to rooms, a message per
// event a client sends with the payload schema of its schema guards, its
// ack as the operation's reply with the error reply of the codes (contract
// C2) that event can get, and the messages the gateway sends: the events of
// its broadcast and emit handlers, exception, connect_error and the token
// lifetime events.
//
// It knows neither how values are typed nor which codes a step refuses
// with: the shapes come from internal/shape (as `gatehouse types` has them)
// and the codes from the report of internal/explain (as `gatehouse explain`
// tells them). Each Socket.IO event is one message: its name is the event
// name and its payload the event's first argument.
package asyncapi
