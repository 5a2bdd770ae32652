package engineio

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// maxLoggedOrigin bounds what of a refused Origin header reaches
// Options.RefusedOrigin: the header is the client's to choose.
const maxLoggedOrigin = 256

// cors enforces the Origin allow-list and answers preflights. The wildcard
// "*" is the standard one: any origin may read the answers, and none with
// credentials (Access-Control-Allow-Origin: *, no Allow-Credentials), so
// that a page on any site cannot ride on a user's cookies. A listed origin
// is echoed with Access-Control-Allow-Credentials: true. A page served from
// the gateway's own origin (scheme and Host of the request) is always
// allowed, as browsers allow it without CORS: browsers send Origin on its
// POSTs and WebSockets too.
func (srv *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin != "" {
		switch {
		case srv.opts.originListed(origin):
			c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
			c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
			c.Vary(fiber.HeaderOrigin)
		case srv.opts.allowsAnyOrigin():
			c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		case sameOrigin(c, origin):
		default:
			srv.refuseOrigin(c, origin)
			return srv.refuse(c, http.StatusForbidden, codeForbidden)
		}
	}
	if c.Method() != fiber.MethodOptions {
		return c.Next()
	}
	c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, OPTIONS")
	if requested := c.Get(fiber.HeaderAccessControlRequestHeaders); requested != "" {
		c.Set(fiber.HeaderAccessControlAllowHeaders, requested)
	}
	return c.SendStatus(http.StatusNoContent)
}

// originAllowed reports whether a request may open a session: no Origin
// (not a browser), an allowed one, or the request's own.
func (srv *Server) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	return origin == "" || srv.opts.originListed(origin) || srv.opts.allowsAnyOrigin() || sameOrigin(c, origin)
}

// sameOrigin reports whether origin is the request's own scheme and host,
// default ports left out on either side as browsers leave them out of
// Origin. Host is the client's to write, but a browser writes the host it
// connects to, and a client that is not a browser is not held by CORS.
func sameOrigin(c *fiber.Ctx, origin string) bool {
	scheme, host, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	if scheme != c.Protocol() {
		return false
	}
	return strings.EqualFold(withoutDefaultPort(scheme, host), withoutDefaultPort(scheme, c.Hostname()))
}

// withoutDefaultPort drops the scheme's default port from host.
func withoutDefaultPort(scheme, host string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

// refuseOrigin tells Options.RefusedOrigin of a refused request.
func (srv *Server) refuseOrigin(c *fiber.Ctx, origin string) {
	if srv.opts.RefusedOrigin == nil {
		return
	}
	if len(origin) > maxLoggedOrigin {
		origin = origin[:maxLoggedOrigin]
	}
	srv.opts.RefusedOrigin(origin, c.Path(), c.IP())
}
