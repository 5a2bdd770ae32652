// Package engineio implements the server side of the Engine.IO v4 protocol
// on Fiber v2: the handshake, HTTP long-polling, WebSocket (through
// fasthttp/websocket's upgrader), the upgrade from polling to WebSocket,
// server-driven ping/pong, maxPayload, CORS with an Origin allow-list, and a
// bounded outbound queue per session. It knows nothing of Socket.IO: it
// hands each session's messages to a Handler.
//
// Wire details (status codes, error bodies, content types, when a closed
// session's sid becomes unknown, what a pending GET gets when the session
// closes or upgrades) follow the reference Node.js server, so that the
// official clients and the protocol's test suite behave as they do there:
// a session the server closes keeps its sid until the next GET fetched the
// close packet; one closed for any other reason (the client's close
// packet, a ping timeout, an invalid packet) is forgotten at once.
//
// Which transport serves a session is decided by the session alone, under
// its lock: polling, then probing while one WebSocket tests the upgrade,
// then WebSocket once the client sent the upgrade packet. Every GET, POST
// and WebSocket of the session asks it whether it may be served, so that
// the answers do not depend on how the requests of one client interleave.
//
// An idle polling session holds no goroutine, only its heartbeat timer; a
// long-poll GET blocks its fasthttp worker until packets are queued, the
// session closes, an upgrade completes or the next ping is due. An idle
// WebSocket session has its reading goroutine only; writes are made by
// whoever finds packets queued.
package engineio
