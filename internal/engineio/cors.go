package engineio

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// cors enforces the Origin allow-list and answers preflights.
func (srv *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin != "" {
		if !srv.opts.originAllowed(origin) {
			return srv.refuse(c, http.StatusForbidden, codeForbidden)
		}
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
		c.Vary(fiber.HeaderOrigin)
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
