// Package engineio implements the server side of the Engine.IO v4 protocol
// on Fiber v2: the handshake, HTTP long-polling, WebSocket (through
// gofiber/contrib/websocket), the upgrade from polling to WebSocket,
// server-driven ping/pong, maxPayload, CORS with an Origin allow-list, and a
// bounded outbound queue per session. It knows nothing of Socket.IO: it
// hands each session's messages to a Handler.
package engineio
