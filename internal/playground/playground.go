package playground

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// DefaultPath is where the playground is served unless
// server.playground.path says otherwise.
const DefaultPath = "/playground"

//go:embed assets
var assets embed.FS

// The page's endpoints, relative to the playground's path.
const (
	configPath = "config.json"
	mintPath   = "api/token"
	assetsPath = "assets/"
)

// contentSecurityPolicy lets the page run its own scripts and styles and
// talk to its own origin (XHR polling and the WebSocket), nothing else: a
// payload or a config value shown on the page cannot load or run anything.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Signer signs a token with the config's own secret (auth.Verifier.Sign).
type Signer interface {
	Sign(claims map[string]any, ttl time.Duration) (string, error)
}

// Options configure Mount.
type Options struct {
	// Path is where the page is served, such as "/playground".
	Path string
	// MintTokens is server.playground.mint_tokens.
	MintTokens bool
	// Current returns the config in force, so that a reload shows at once,
	// and the signer of its auth.jwt (nil when it has none).
	Current func() (*gatewayconfig.Config, Signer)
}

// server answers the playground's requests.
type server struct {
	opts Options
	// views keeps the JSON view of the last config asked for, rebuilt when
	// a reload replaces it.
	mu       sync.Mutex
	viewOf   *gatewayconfig.Config
	viewJSON []byte
}

// Mount serves the playground on router under opts.Path: the page, its
// embedded assets, the config view and the token endpoint. Any other path
// under it answers 404.
func Mount(router fiber.Router, opts Options) error {
	if opts.Current == nil {
		return fmt.Errorf("playground: Options.Current is required")
	}
	base := strings.TrimSuffix(opts.Path, "/")
	if base == "" || !strings.HasPrefix(base, "/") {
		return fmt.Errorf("playground: path %q must start with / and name a path below the root", opts.Path)
	}
	s := &server{opts: opts}
	router.Get(base, s.page)
	router.Get(base+"/"+configPath, s.config)
	router.Post(base+"/"+mintPath, s.mint)
	router.Get(base+"/"+assetsPath+":name", s.asset)
	router.All(base+"/*", notFound)
	return nil
}

// page answers the HTML page; a path without its trailing slash is
// redirected to it, so that the page's relative URLs stay under the
// playground's path.
func (s *server) page(c *fiber.Ctx) error {
	if !strings.HasSuffix(c.Path(), "/") {
		return c.Redirect(c.Path()+"/", fiber.StatusMovedPermanently)
	}
	raw, err := assets.ReadFile("assets/index.html")
	if err != nil {
		return fmt.Errorf("playground page: %w", err)
	}
	securityHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("html", "utf-8")
	return c.Send(raw)
}

// asset answers one embedded file of the page.
func (s *server) asset(c *fiber.Ctx) error {
	name := c.Params("name")
	raw, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil || name == "index.html" || strings.Contains(name, "/") {
		return notFound(c)
	}
	securityHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentType, contentType(name))
	return c.Send(raw)
}

func contentType(name string) string {
	if strings.HasSuffix(name, ".LICENSE") {
		return fiber.MIMETextPlainCharsetUTF8
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return fiber.MIMEOctetStream
}

// config answers the view of the config in force.
func (s *server) config(c *fiber.Ctx) error {
	cfg, _ := s.opts.Current()
	raw, err := s.view(cfg)
	if err != nil {
		return refuse(c, fiber.StatusInternalServerError, gatehouse.CodeInternal, "the config could not be described: "+err.Error())
	}
	securityHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(raw)
}

func (s *server) view(cfg *gatewayconfig.Config) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.viewOf == cfg && s.viewJSON != nil {
		return s.viewJSON, nil
	}
	v, err := BuildView(cfg, s.opts.MintTokens)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the view: %w", err)
	}
	s.viewOf, s.viewJSON = cfg, raw
	return raw, nil
}

func securityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
}

func notFound(c *fiber.Ctx) error {
	return refuse(c, fiber.StatusNotFound, gatehouse.CodeNotFound, "no such playground path: "+c.Path())
}

// refuse answers {code, message}, the shape of the gateway's other HTTP
// refusals.
func refuse(c *fiber.Ctx, status int, code gatehouse.Code, message string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(fiber.Map{"code": code, "message": message})
}

// URL is where a browser on this machine finds the playground of a gateway
// listening on addr: an unspecified address (":8080") is shown as
// localhost.
func URL(addr net.Addr, tls bool, path string) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host := addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP == nil || tcp.IP.IsUnspecified()) {
		host = net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return scheme + "://" + host + strings.TrimSuffix(path, "/") + "/"
}
