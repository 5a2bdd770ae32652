package engineio

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// maxLoggedOrigin bounds what of a refused Origin header reaches
// Options.RefusedOrigin: the header is the client's to choose.
const maxLoggedOrigin = 256

// cors enforces the Origin allow-list and answers preflights. The wildcard
// "*" is the standard one: any origin may read the answers, and none with
// credentials (Access-Control-Allow-Origin: *, no Allow-Credentials), so
// that a page on any site cannot ride on a user's cookies. A listed origin
// is echoed with Access-Control-Allow-Credentials: true.
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
