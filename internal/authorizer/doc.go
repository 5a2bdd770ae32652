// Package authorizer asks an HTTP backend whether a socket may connect to a
// namespace, given what its client presented (the CONNECT auth payload,
// chosen headers and cookies, its address, the claims of a JWT verified
// before), and what claims the socket then carries and for how long.
//
// It bounds what a client can make it hold: the request it sends
// (Config.MaxRequest), the answer it reads back (Config.MaxAnswer), the
// calls waiting on the backend (Config.MaxInFlight, with identical
// requests sharing one call) and the answers it remembers (Config.Cache,
// by count and by bytes, each for at most its TTL).
//
// It knows nothing of sockets, Socket.IO or the config file: the gateway
// gathers what the client presented into a Request and applies the
// Decision or the coded refusal it gets back.
package authorizer
