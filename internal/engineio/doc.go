// Package engineio implements the server side of the Engine.IO v4 protocol
// on Fiber v2: the handshake, HTTP long-polling, WebSocket (through
// fasthttp/websocket's upgrader), the upgrade from polling to WebSocket,
// server-driven ping/pong, maxPayload, CORS with an Origin allow-list, and a
// bounded outbound queue per session. It knows nothing of Socket.IO: it
// hands each session's messages to a Handler.
//
// Wire details (status codes, error bodies, content types, the close packet
// handed to the next GET of a closed polling session) follow the reference
// Node.js server, so that the official clients behave as they do there.
//
// An idle polling session holds no goroutine, only its heartbeat timer; a
// long-poll GET blocks its fasthttp worker until packets are queued, the
// session closes, an upgrade completes or the next ping is due. An idle
// WebSocket session has its reading goroutine only; writes are made by
// whoever finds packets queued.
package engineio
