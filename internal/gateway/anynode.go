package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	nodes "github.com/gatehouse-dev/gatehouse/internal/cluster"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
)

// anyNode is what cluster.any_node adds to a gateway: a tag that starts
// its session ids, its announcement in Redis, the forwarding of requests
// for other nodes' sessions, and the internal listener where other nodes
// forward requests for its own.
type anyNode struct {
	cfg      gatewayconfig.Cluster
	dir      *nodes.Directory
	fwd      *nodes.Forwarder
	verifier *nodes.Verifier
	logger   *slog.Logger
	app      *fiber.App
	served   chan error
}

// newAnyNode prepares cluster.any_node on adp, or returns nil when it is
// off; its forwards are counted in m (nil without metrics). It neither
// listens nor announces: serve does.
func newAnyNode(cfg *gatewayconfig.Config, adp adapter.Adapter, m *metrics.Metrics, logger *slog.Logger) (*anyNode, error) {
	if !cfg.Cluster.AnyNode {
		return nil, nil
	}
	directory, ok := adp.(adapter.NodeDirectory)
	if !ok {
		return nil, gatewayconfig.Errorf(cfg.PosOf("cluster.any_node"), "cluster.any_node needs the Redis adapter")
	}
	dir := nodes.NewDirectory(directory, nodes.NewTag(), cfg.Cluster.Advertise, 0, logger)
	fwd := nodes.NewForwarder(dir, nodes.NewSigner(cfg.Cluster.Secret, nil), nodes.ForwarderOptions{
		Hold:             holdOf(cfg.Server),
		HandshakeTimeout: cfg.Server.Limits.HandshakeTimeout.D(),
		Observe:          m.Forwarded,
		Logger:           logger,
	})
	return &anyNode{cfg: cfg.Cluster, dir: dir, fwd: fwd, logger: logger,
		verifier: nodes.NewVerifier(cfg.Cluster.Secret, 0, nil)}, nil
}

// holdOf is how long a request may be held: a pending GET up to a ping
// interval and a ping timeout, with a margin.
func holdOf(s gatewayconfig.Server) time.Duration {
	return s.PingInterval.D() + s.PingTimeout.D() + 10*time.Second
}

// engineOptions sets what the Engine.IO server needs of any_node: the tag
// of its session ids and the forwarding of other nodes' sessions.
func (a *anyNode) engineOptions(o *engineio.Options) {
	if a == nil {
		return
	}
	o.NodeTag = a.dir.Tag()
	o.Foreign = a.fwd.Forward
}

// mount builds the internal listener's app on engine.
func (a *anyNode) mount(gw *Gateway) {
	if a == nil {
		return
	}
	a.app = nodes.NewInternalApp(gw.engine, a.verifier, nodes.InternalOptions{
		Path:    gw.cfg.Server.Path,
		MaxBody: int(gw.cfg.Server.MaxPayload),
		Hold:    holdOf(gw.cfg.Server),
		Refused: gw.refusals.sessionRefused,
	})
}

// serve opens the internal listener, serves it, and announces the node.
func (a *anyNode) serve(gw *Gateway) error {
	if a == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cluster.listen: %w", err)
	}
	ln = gw.engine.WrapListener(ln)
	a.served = make(chan error, 1)
	go func() { a.served <- a.app.Listener(ln) }()
	a.dir.Start()
	a.logger.Info("cluster internal listener serving", "addr", ln.Addr().String(), "advertise", a.cfg.Advertise,
		"tag", a.dir.Tag())
	return nil
}

// shutdown withdraws the node's announcement, cuts the tunnels to other
// nodes and stops the internal listener; it runs after the sessions are
// closed, so that other nodes could reach them until then.
func (a *anyNode) shutdown(ctx context.Context) error {
	if a == nil || a.served == nil {
		return nil
	}
	var errs []error
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	if err := a.dir.Close(wctx); err != nil {
		errs = append(errs, fmt.Errorf("withdraw node: %w", err))
	}
	cancel()
	if err := a.fwd.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.app.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop internal listener: %w", err))
	}
	if err := <-a.served; err != nil {
		errs = append(errs, fmt.Errorf("internal listener: %w", err))
	}
	return errors.Join(errs...)
}
