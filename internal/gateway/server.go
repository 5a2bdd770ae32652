package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/auth"
	"github.com/gatehouse-dev/gatehouse/internal/deadline"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/lifecycle"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
	"github.com/gatehouse-dev/gatehouse/internal/tracing"
)

// state is everything a config produces; it is swapped whole on reload, so
// that one event always sees one consistent config.
type state struct {
	cfg        *gatewayconfig.Config
	namespaces map[string]*namespaceRuntime
	verifier   *auth.Verifier // nil when auth.jwt is not configured
	// upgradeAuth verifies tokens on the Engine.IO requests; nil when the
	// config looks for none there.
	upgradeAuth fiber.Handler
	logger      *slog.Logger
	// stop ends what the state runs in the background (JWKS refresh) once
	// the state is replaced or the gateway stops.
	stop context.CancelFunc
	// plugins are the guards and handlers built for the state, closed when
	// it is replaced, at shutdown, or when it fails to build.
	plugins *instances
	// users counts what runs under the state, so that a reload closes its
	// plugins once the last event using them is done.
	users stateUsers
	// expiries is the gateway's scheduler of token expiries (hostEnv).
	expiries *deadline.Scheduler
}

// Gateway is one running gateway process.
type Gateway struct {
	// cfg is the config the gateway started with; the server section and
	// the adapter keep its values until a restart, while state holds what a
	// reload replaces.
	cfg     *gatewayconfig.Config
	logger  *slog.Logger
	reg     Registries
	host    *hostEnv
	tls     *certificate // nil without server.tls
	current atomic.Pointer[state]
	app     *fiber.App
	engine  *engineio.Server
	sockets *socketio.Server
	cluster *cluster
	metrics *metrics.Metrics // nil when server.metrics is off
	// lifecycle posts connects, disconnects and room changes to a
	// backend; nil without server.hooks.
	lifecycle *lifecycle.Hooks
	// roomPresence is the cluster's record of presence (adapter: redis),
	// nil on a single node.
	roomPresence *presenceCluster
	// tracer makes the spans of server.tracing; nil when it is off, and
	// then nothing on the paths that serve clients makes a span.
	tracer  *tracing.Tracer
	serving atomic.Bool
	closing atomic.Bool
	// refusals counts and logs what the limits of server.limits refuse.
	refusals *refusalLog
	// admin is this node's part of the operator's view; its ring keeps the
	// last refusals when server.admin is served.
	admin *admin.Local
	// tcpConns counts the TCP connections of each client address.
	tcpConns *tcpConnsPerIP
	// inFlight counts the events being handled, for the drain.
	inFlight inFlight
	// retiring counts the replaced states whose guards and handlers wait
	// to be closed (see retire).
	retiring sync.WaitGroup
	// anyNode serves other nodes' sessions and forwards requests for them
	// (cluster.any_node); nil when off.
	anyNode *anyNode
}

// Options tune how a gateway is built.
type Options struct {
	Logger     *slog.Logger
	Registries Registries
	// PresenceLease is the node's lease on its presence records with the
	// Redis adapter (15s when zero): a node that dies is out of its rooms
	// within about 4/3 of it.
	PresenceLease time.Duration
}

// Build turns a loaded config into a gateway ready to serve. It builds every
// guard chain, handler and expression exactly as serving would need, so
// `gatehouse validate` calls it and stops before listening. Errors are a
// gatewayconfig.ErrorList with positions where the config has them.
func Build(ctx context.Context, cfg *gatewayconfig.Config, opts Options) (*Gateway, error) {
	tracer, err := newTracer(cfg.Server.Tracing, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("server.tracing: %w", err)
	}
	gw, err := build(ctx, cfg, opts, tracer)
	if err != nil && tracer != nil {
		_ = tracer.Shutdown(ctx)
	}
	return gw, err
}

// build is Build with the tracer of server.tracing made (nil when off).
func build(ctx context.Context, cfg *gatewayconfig.Config, opts Options, tracer *tracing.Tracer) (*Gateway, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registries.Guards == nil || opts.Registries.Handlers == nil {
		opts.Registries = DefaultRegistries()
	}
	adp, err := newAdapter(cfg.Adapter, logger, otelTracer(tracer))
	if err != nil {
		return nil, err
	}
	gw := &Gateway{cfg: cfg, logger: logger, reg: opts.Registries, tracer: tracer}
	gw.metrics = gw.newMetrics(adp)
	gw.lifecycle = newLifecycle(cfg.Server.Hooks, adp, logger)
	if gw.lifecycle != nil && gw.metrics != nil {
		gw.metrics.Registry().MustRegister(gw.lifecycle.Collector())
	}
	gw.host = newHostEnv(adp, logger, gw.metrics.Registry())
	gw.host.history = history{gw: gw}
	gw.host.presence = presence{gw: gw}
	gw.roomPresence = newPresenceCluster(gw, adp, opts.PresenceLease, logger)
	st, err := buildState(ctx, cfg, opts.Registries, logger, gw.host)
	if err != nil {
		_ = adp.Close()
		return nil, err
	}
	gw.planBroadcasts(st)
	if cfg.Server.TLS != nil {
		if gw.tls, err = loadCertificate(cfg); err != nil {
			st.stop()
			gw.closePlugins(ctx, st)
			_ = adp.Close()
			return nil, err
		}
	}
	gw.current.Store(st)
	gw.admin = gw.newAdminLocal()
	gw.refusals = newRefusalLog(logger)
	gw.refusals.recent = gw.admin.Refusals
	gw.tcpConns = newTCPConnsPerIP(cfg.Server.Limits.MaxTCPConnectionsPerIP)
	gw.cluster = &cluster{gw: gw, adapter: adp, logger: logger}
	gw.cluster.moves = newMoves(gw)
	if gw.anyNode, err = newAnyNode(cfg, adp, gw.metrics, logger); err != nil {
		st.stop()
		gw.closePlugins(ctx, st)
		_ = adp.Close()
		return nil, err
	}
	var remote socketio.RemoteBroadcast
	if gw.cluster.distributed() {
		remote = gw.cluster.remoteBroadcast
	}
	gw.sockets = socketio.NewServer(socketio.Options{
		Hooks:      hooks{gw: gw},
		Limits:     socketLimits(cfg.Server.Limits, cfg.Server.MaxPayload),
		Refused:    gw.refusals.socketRefused,
		AckTimeout: cfg.Server.AckTimeout.D(),
		Remote:     remote,
		Observer:   gw.socketObserver(),
		// Rooms filling and emptying on this node, for the lifecycle hooks.
		RoomChanged: roomChanged(gw.lifecycle),
		// Users joining and leaving rooms, for presence's announcements.
		UserRoomChanged: newAnnouncer(gw).changed,
		// The cluster's presence figures for the expressions (Redis).
		ClusterPresence: gw.roomPresence.clusterPresence(),
		Logger:          logger,
		Recovery:        recovery{gw: gw},
		Plan:            gw.broadcastPlan,
		// Sessions move between nodes only with cluster.any_node.
		Moves: gw.anyNode != nil,
	})
	engineOpts := engineio.Options{
		PingInterval:   cfg.Server.PingInterval.D(),
		PingTimeout:    cfg.Server.PingTimeout.D(),
		MaxPayload:     int64(cfg.Server.MaxPayload),
		AllowedOrigins: cfg.Server.AllowedOrigins,
		Transports:     cfg.Server.Transports,
		SendQueue:      cfg.Server.SendQueue,
		SlowConsumer:   slowConsumerPolicy(cfg.Server.SlowConsumer),
		Logger:         logger,
		// Limits of server.limits; a reload changes them (applyLimits).
		MaxSessions:      cfg.Server.Limits.MaxConnections,
		MaxSessionsPerIP: cfg.Server.Limits.MaxConnectionsPerIP,
		Refused:          gw.refusals.sessionRefused,
		MessageTimeout:   cfg.Server.Limits.MessageTimeout.D(),
		RefusedOrigin:    gw.refusals.originRefused,
	}
	gw.anyNode.engineOptions(&engineOpts)
	if gw.anyNode != nil {
		// A WebSocket upgrade of another node's session moves it here.
		engineOpts.AdoptWebSocket = gw.cluster.moves.adoptWebSocket
	}
	gw.engine = engineio.NewServer(engineOpts, gw.sockets)
	gw.app = gw.newApp()
	gw.anyNode.mount(gw)
	if err := gw.mountAPI(gw.app); err != nil {
		st.stop()
		gw.closePlugins(ctx, st)
		_ = adp.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	if err := gw.mountPlayground(gw.app); err != nil {
		st.stop()
		gw.closePlugins(ctx, st)
		_ = adp.Close()
		return nil, err
	}
	if err := gw.mountAdmin(gw.app); err != nil {
		st.stop()
		gw.closePlugins(ctx, st)
		_ = adp.Close()
		return nil, err
	}
	return gw, nil
}

// buildState builds the parts of a gateway that a config determines.
func buildState(ctx context.Context, cfg *gatewayconfig.Config, reg Registries, logger *slog.Logger, env *hostEnv) (*state, error) {
	namespaces, built, err := buildRuntime(cfg, reg, env)
	if err != nil {
		return nil, err
	}
	// The state outlives the call that builds it (a reload request, say),
	// so its background work gets a context of its own.
	stateCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	st := &state{cfg: cfg, namespaces: namespaces, logger: logger, stop: stop, plugins: built, expiries: env.expiries}
	if cfg.Auth.JWT != nil {
		v, err := auth.NewVerifier(stateCtx, cfg.Auth.JWT, logger)
		if err != nil {
			stop()
			_ = built.close(ctx)
			return nil, gatewayconfig.Errorf(cfg.PosOf("auth.jwt"), "auth.jwt: %v", err)
		}
		st.verifier = v
		if len(cfg.Auth.JWT.Lookup) > 0 {
			st.upgradeAuth = v.Middleware()
		}
	}
	return st, nil
}

func (gw *Gateway) state() *state { return gw.current.Load() }

// newApp builds the Fiber app: health endpoints and the Engine.IO routes
// behind the upgrade-time JWT middleware.
func (gw *Gateway) newApp() *fiber.App {
	srv := gw.cfg.Server
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "gatehouse",
		// A long-poll GET is held up to a ping interval; leave room.
		ReadTimeout:  srv.PingInterval.D() + srv.PingTimeout.D() + 10*time.Second,
		WriteTimeout: srv.PingInterval.D() + srv.PingTimeout.D() + 10*time.Second,
		IdleTimeout:  2 * (srv.PingInterval.D() + srv.PingTimeout.D()),
		// Bodies are read by readBody as they arrive, against max_payload
		// and body_timeout; fasthttp only reads prefetchedBody bytes
		// before, instead of a buffer of Content-Length bytes.
		StreamRequestBody: true,
		BodyLimit:         prefetchedBody,
		// fasthttp would otherwise read a whole multipart body (into
		// memory up to 16 MiB) before any handler runs.
		DisablePreParseMultipartForm: true,
		// Headers must fit a token of auth.jwt.max_size (8KB by default)
		// with room to spare, so that an oversized token gets the
		// gateway's 401 rather than fasthttp's 431.
		ReadBufferSize: 32 * 1024,
		// Releases that read buffer (and the write buffer) of a connection
		// between requests; above all, a WebSocket upgrade does not keep it
		// for the connection's life, which would cost every idle client
		// 32 KiB. The WebSocket reads through a small buffer of its own.
		ReduceMemoryUsage: true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			return c.Status(code).JSON(fiber.Map{"code": code, "message": err.Error()})
		},
	})
	gw.limitHandshakes(app)
	// First, so that every path (unknown ones too) reads bodies the same way.
	app.Use(gw.readBody)
	// WebSockets are closed by the Engine.IO server, which then keeps no
	// upgrade goroutine or request context per connection.
	gw.engine.OwnHijackedConns(app.Server())
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", func(c *fiber.Ctx) error {
		if reason := gw.notReadyReason(); reason != "" {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": reason})
		}
		return c.JSON(fiber.Map{"ready": true})
	})
	// The upgrade-time check is looked up per request, so that a reload
	// that changes keys or lookup places applies to the next request.
	upgradeAuth := func(c *fiber.Ctx) error {
		if check := gw.state().upgradeAuth; check != nil {
			err := check(c)
			gw.countUpgradeRefusal(c)
			return err
		}
		return c.Next()
	}
	before := []fiber.Handler{upgradeAuth, gw.authorizeUpgrade}
	if gw.tracer != nil {
		before = append([]fiber.Handler{gw.traceHandshakes}, before...)
	}
	gw.engine.Mount(app, srv.Path, before...)
	gw.mountMetrics(app)
	return app
}

// notReadyReason says why the gateway is not ready, or "" when it is.
func (gw *Gateway) notReadyReason() string {
	switch {
	case gw.closing.Load():
		return "shutting down"
	case !gw.serving.Load():
		return "not serving yet"
	}
	if up, cause := gw.cluster.adapter.State(); !up {
		return "cluster adapter: " + cause
	}
	return ""
}

// Serve accepts connections on ln until Shutdown.
func (gw *Gateway) Serve(ln net.Listener) error {
	gw.cluster.start()
	if gw.lifecycle != nil {
		gw.lifecycle.Start()
	}
	gw.roomPresence.start()
	if err := gw.anyNode.serve(gw); err != nil {
		return err
	}
	gw.serving.Store(true)
	// Innermost, so that a WebSocket session learns when its connection is
	// about to read the socket itself (see engineio.Server.WrapListener).
	ln = gw.engine.WrapListener(ln)
	ln = gw.limitFirstRead(ln)
	if gw.tls != nil {
		ln = tls.NewListener(ln, gw.tls.serverConfig())
	}
	gw.logger.Info("gateway serving", "addr", ln.Addr().String(), "path", gw.cfg.Server.Path,
		"tls", gw.tls != nil, "namespaces", len(gw.state().namespaces))
	err := gw.app.Listener(ln)
	if err != nil && !gw.closing.Load() {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown drains the gateway within ctx's deadline: /readyz answers 503,
// new sessions, CONNECTs and events are refused with the code unavailable,
// the events in flight finish and their acknowledgements are sent, then
// every client is closed with the reason "server shutting down" (a close
// packet, after which socket.io-client reconnects, to another node behind
// a load balancer). It returns once they are gone or ctx ends.
func (gw *Gateway) Shutdown(ctx context.Context) error {
	gw.closing.Store(true)
	defer gw.state().stop()
	gw.drain(ctx)
	var errs []error
	if err := gw.engine.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close sessions: %w", err))
	}
	// The sockets are gone, and their tokens' deadlines with them.
	gw.host.expiries.Stop()
	if err := gw.app.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop http: %w", err))
	}
	if err := gw.anyNode.shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cluster: %w", err))
	}
	// After the sessions, whose disconnects and emptied rooms it posts;
	// before the adapter, which records the cluster's rooms.
	if err := gw.closeLifecycle(ctx); err != nil {
		errs = append(errs, fmt.Errorf("lifecycle hooks: %w", err))
	}
	if err := gw.roomPresence.close(ctx); err != nil {
		errs = append(errs, err)
	}
	// Guards and handlers close before the adapter they may publish to.
	gw.waitRetiring(ctx)
	if err := gw.state().plugins.close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close guards and handlers: %w", err))
	}
	if err := gw.cluster.closeConns(); err != nil {
		errs = append(errs, fmt.Errorf("close connection counts: %w", err))
	}
	if err := gw.cluster.adapter.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close adapter: %w", err))
	}
	// Last, once nothing makes spans any more.
	if err := gw.shutdownTracer(ctx); err != nil {
		errs = append(errs, fmt.Errorf("export spans: %w", err))
	}
	return errors.Join(errs...)
}

// Sockets is the Socket.IO server, for the server API and tests.
func (gw *Gateway) Sockets() *socketio.Server { return gw.sockets }

// slowConsumerPolicy maps server.slow_consumer (validated by the config
// loader) to the Engine.IO policy; anything but drop_oldest disconnects.
func slowConsumerPolicy(name string) engineio.SlowConsumerPolicy {
	if name == "drop_oldest" {
		return engineio.SlowConsumerDropOldest
	}
	return engineio.SlowConsumerDisconnect
}
