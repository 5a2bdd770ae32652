package engineio

import (
	"net/http"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

// Sessions of other nodes. In a cluster where any node serves any session,
// each node's session ids start with its tag (Options.NodeTag). A request
// whose sid this server does not hold but another node's tag starts is
// offered to Options.Foreign, which hands it to the node that holds the
// session; that node serves it with ServeForwarded, as a request of its
// own, and never offers it further, so a request crosses at most one hop.

// ForeignFunc is offered a request whose session another node holds, with
// its sid. It reports whether it answered the request; when it did, err is
// what the handler returns. It runs on the request's goroutine and may
// block for as long as the session's owner holds the request (a pending
// GET, up to PingInterval plus PingTimeout).
type ForeignFunc func(c *fiber.Ctx, sid string) (handled bool, err error)

// localForwarded marks a request that another node forwarded here, so that
// it is never offered to Foreign again.
const localForwarded = "gatehouse.engineio.forwarded"

// foreign offers a request for a session this server does not hold to
// AdoptWebSocket (an upgrade) and Foreign, when sid is another node's.
func (srv *Server) foreign(c *fiber.Ctx, sid, transport string, upgrade bool) (bool, error) {
	if srv.opts.Foreign == nil || c.Locals(localForwarded) != nil || !srv.ids.foreign(sid) {
		return false, nil
	}
	if transport == TransportWebSocket && upgrade && srv.opts.AdoptWebSocket != nil {
		if adopted, err := srv.opts.AdoptWebSocket(c, sid); adopted {
			return true, err
		}
	}
	return srv.opts.Foreign(c, sid)
}

// ServeForwarded serves a request that another node forwarded because this
// server holds its session: a polling GET or POST, or a WebSocket upgrade,
// with the semantics of a request that came here directly. It answers the
// reference server's "Session ID unknown" when the session is not here,
// and refuses handshakes, which the forwarding node makes itself. The
// caller has authenticated the forwarding node; the client's Origin was
// checked there too. A WebSocket upgrade is hijacked from the HTTP server
// that called, which must have been given to OwnHijackedConns as well.
func (srv *Server) ServeForwarded(c *fiber.Ctx) error {
	if c.Query("sid") == "" {
		return srv.refuse(c, http.StatusBadRequest, codeBadRequest)
	}
	c.Locals(localForwarded, true)
	return srv.handle(c)
}

// IsWebSocketUpgrade reports whether c asks for a WebSocket upgrade.
func IsWebSocketUpgrade(c *fiber.Ctx) bool {
	return fws.FastHTTPIsWebSocketUpgrade(c.Context())
}

// RefuseUnknownSession answers c as a request for a session that no node
// holds: 400 with the reference server's "Session ID unknown", after which
// the official client opens a new session.
func RefuseUnknownSession(c *fiber.Ctx) error {
	return c.Status(http.StatusBadRequest).JSON(protocolError{Code: codeUnknownSID, Message: codeUnknownSID.message()})
}
