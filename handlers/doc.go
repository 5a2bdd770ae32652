// Package handlers is the handler plugin API and the built-in handlers.
//
// An event that passes its guards is dispatched to its handler(s). Handler
// types register a Factory by name from init(); gateway.yaml names the type
// under an event's "handler:" with its options. Built-ins, usable from YAML
// alone, live one per file: reply.go, emit.go, broadcast.go, room.go (join
// and leave), webhook.go, publish.go.
package handlers
