package cluster

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

// InternalOptions configure the internal listener's app.
type InternalOptions struct {
	// Path is the Engine.IO path (server.path); forwarded requests keep it.
	Path string
	// MaxBody bounds a forwarded request's body: the forwarding node
	// already refused bodies over server.max_payload.
	MaxBody int
	// Hold bounds how long a forwarded request may take, as on the public
	// listener (a pending GET is held up to a ping interval).
	Hold time.Duration
	// Refused, when set, is told of each refused request with the reason
	// ("cluster_unsigned", "cluster_signature", "cluster_stale",
	// "cluster_replay", "cluster_nonces") and the caller's address.
	Refused func(reason, remoteIP string)
}

// NewInternalApp returns the app of a node's internal listener: every
// request must be signed with the cluster secret (v) and is served by
// engine as a forwarded request (engineio.Server.ServeForwarded); others
// are refused 401 with the code unauthorized before anything reads them
// further. Only the Engine.IO path is served; anything else is 404.
func NewInternalApp(engine *engineio.Server, v *Verifier, opts InternalOptions) *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "gatehouse-cluster",
		ReadTimeout:           opts.Hold,
		WriteTimeout:          opts.Hold,
		IdleTimeout:           2 * opts.Hold,
		BodyLimit:             max(opts.MaxBody, 4096),
		ReadBufferSize:        32 * 1024,
		ReduceMemoryUsage:     true,
	})
	// The forwarding node's answers stream WebSockets through this one.
	engine.OwnHijackedConns(app.Server())
	app.Use(func(c *fiber.Ctx) error {
		if err := v.Verify(c.Request()); err != nil {
			if opts.Refused != nil {
				opts.Refused(refusalReason(err), c.IP())
			}
			c.Context().SetConnectionClose()
			return c.Status(http.StatusUnauthorized).JSON(fiber.Map{"code": "unauthorized", "message": err.Error()})
		}
		return c.Next()
	})
	base := strings.TrimSuffix(opts.Path, "/")
	for _, p := range []string{base + "/", base} {
		if p != "" {
			app.All(p, engine.ServeForwarded)
		}
	}
	return app
}

// refusalReason names a verification failure for the refusal metrics.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "cluster_unsigned"
	case errors.Is(err, ErrStale):
		return "cluster_stale"
	case errors.Is(err, ErrReplayed):
		return "cluster_replay"
	case errors.Is(err, ErrTooManyNonce):
		return "cluster_nonces"
	}
	return "cluster_signature"
}
