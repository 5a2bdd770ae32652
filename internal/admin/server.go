package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// DefaultPath is where the view is served when Options.Path is "".
const DefaultPath = "/admin"

// DefaultRequestTimeout bounds the wait for the other nodes' answers.
const DefaultRequestTimeout = 3 * time.Second

//go:embed page.html
var page []byte

// Peers reaches the other nodes of the cluster.
type Peers interface {
	// Gather asks every other node for its view of part and returns their
	// answers, as Local.Answer encodes them. When some node did not answer
	// in time, it returns those that came with an error saying so.
	Gather(ctx context.Context, part string) ([]json.RawMessage, error)
}

// Options configure the view.
type Options struct {
	// Path is where the page is served; the JSON endpoints are under
	// Path + "/api". DefaultPath when "".
	Path string
	// Auth checks the API key of each JSON request (api.KeyCheck); the page
	// itself carries no data and is served without it. Required.
	Auth fiber.Handler
	// Local is this node's view. Required.
	Local *Local
	// Peers reaches the other nodes; nil for a node alone.
	Peers Peers
	// APIPrefix is where the server API is served, for the page's
	// disconnect button.
	APIPrefix string
	// RequestTimeout bounds a request's wait for the other nodes
	// (DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
	// Logger receives the nodes' undecodable answers (discarded when nil).
	Logger *slog.Logger
}

// server holds the view's handlers.
type server struct {
	opts Options
}

// Mount serves the page at opts.Path and its JSON endpoints under
// opts.Path + "/api" on router.
func Mount(router fiber.Router, opts Options) error {
	if opts.Auth == nil || opts.Local == nil || opts.Local.Node == nil {
		return errors.New("admin: no key check or no local node")
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	opts.Path = strings.TrimSuffix(opts.Path, "/")
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{opts: opts}
	router.Get(opts.Path, s.page)
	router.Get(opts.Path+"/", s.page)
	group := router.Group(opts.Path+"/api", opts.Auth)
	group.Get("/"+PartConnections, s.connections)
	group.Get("/"+PartRefusals, s.refusals)
	group.Get("/"+PartEvents, s.events)
	group.All("/*", func(c *fiber.Ctx) error {
		return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"code": "not_found",
			"message": fmt.Sprintf("no endpoint %s %s", c.Method(), c.Path())})
	})
	return nil
}

// page serves the HTML page with the server API's place filled in. The
// page keeps to itself: no script, style or font from elsewhere.
func (s *server) page(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	body := strings.Replace(string(page), "{{API_PREFIX}}", jsString(s.opts.APIPrefix), 1)
	body = strings.Replace(body, "{{ADMIN_PATH}}", jsString(s.opts.Path), 1)
	return c.SendString(body)
}

// jsString is s as a JavaScript string literal that is safe inside a
// script element.
func jsString(s string) string {
	out, _ := json.Marshal(s) // a string always encodes
	return strings.ReplaceAll(string(out), "</", `<\/`)
}

func (s *server) connections(c *fiber.Ctx) error {
	self := s.opts.Local.Node.Connections()
	nodes := []NodeConnections{self}
	partial := gather(c, s, PartConnections, &nodes)
	out := mergeConnections(self.Node, nodes)
	out.Partial = partial
	return s.answer(c, out)
}

func (s *server) refusals(c *fiber.Ctx) error {
	nodes := []NodeRefusals{s.opts.Local.refusals()}
	partial := gather(c, s, PartRefusals, &nodes)
	out := mergeRefusals(nodes, max(s.opts.Local.Refusals.Size(), 1))
	out.Partial = partial
	return s.answer(c, out)
}

func (s *server) events(c *fiber.Ctx) error {
	nodes := []NodeEvents{s.opts.Local.Node.Events()}
	partial := gather(c, s, PartEvents, &nodes)
	out := mergeEvents(nodes)
	out.Time = time.Now().UTC()
	out.Partial = partial
	return s.answer(c, out)
}

func (s *server) answer(c *fiber.Ctx, v any) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// gather appends the other nodes' views of part to nodes. A node that did
// not answer, or whose answer does not decode, is left out and named in
// partial; the view of the nodes that answered is still worth showing.
func gather[T any](c *fiber.Ctx, s *server, part string, nodes *[]T) (partial string) {
	if s.opts.Peers == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
	defer cancel()
	answers, gatherErr := s.opts.Peers.Gather(ctx, part)
	for _, raw := range answers {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			s.opts.Logger.Debug("admin: undecodable answer of a node ignored", "part", part, "error", err)
			partial = "a node answered with something undecodable"
			continue
		}
		*nodes = append(*nodes, v)
	}
	if gatherErr != nil {
		partial = "not every gateway answered: " + gatherErr.Error()
	}
	return partial
}
