package gateway

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// newMetrics builds the gateway's metrics, or nil when server.metrics is
// off. What changes on its own (sockets and their transports, sessions,
// the adapter's state) is read from gw at each scrape, so gw's servers may
// be built afterwards.
func (gw *Gateway) newMetrics(adp adapter.Adapter) *metrics.Metrics {
	if !gw.cfg.Server.Metrics {
		return nil
	}
	return metrics.New(metrics.Sources{
		Connections:   gw.connectionCounts,
		Sessions:      func() int { return gw.engine.SessionCount() },
		Adapter:       adp,
		AdapterKind:   gw.cfg.Adapter.Kind,
		LimitRefusals: gw.LimitRefusals,
	})
}

// Metrics are the gateway's metrics, nil when server.metrics is off.
func (gw *Gateway) Metrics() *metrics.Metrics { return gw.metrics }

// socketObserver is what the Socket.IO server reports outbound traffic to:
// nil without metrics, so that it does not call at all.
func (gw *Gateway) socketObserver() socketio.Observer {
	if gw.metrics == nil {
		return nil
	}
	return gw.metrics
}

// mountMetrics serves the metrics at server.metrics_path.
func (gw *Gateway) mountMetrics(app *fiber.App) {
	if gw.metrics == nil {
		return
	}
	app.Get(gw.cfg.Server.MetricsPath, adaptor.HTTPHandler(gw.metrics.Handler()))
}

// connectionCounts counts the sockets of every declared namespace by their
// current transport.
func (gw *Gateway) connectionCounts() []metrics.ConnectionCount {
	var counts []metrics.ConnectionCount
	for name := range gw.state().namespaces {
		byTransport := map[string]int{}
		for _, s := range gw.sockets.Sockets(name) {
			byTransport[s.Transport()]++
		}
		for transport, n := range byTransport {
			counts = append(counts, metrics.ConnectionCount{Namespace: name, Transport: transport, Sockets: n})
		}
	}
	return counts
}

// countEvent counts one client event and its outcome. Events the config
// does not declare share one label value, since clients choose their names.
func (gw *Gateway) countEvent(namespace, event string, err error) {
	if gw.metrics == nil {
		return
	}
	label := metrics.UnknownEvent
	if ns, ok := gw.state().namespaces[namespace]; ok {
		if _, declared := ns.events[event]; declared || event == eventAuthRefresh {
			label = event
		}
	}
	code := metrics.CodeOK
	if err != nil {
		code = string(gatehouse.AsError(err).Code)
	}
	gw.metrics.Event(namespace, label, code)
}

// countUpgradeRefusal counts an Engine.IO request the upgrade-time token
// check refused: it answered 401 with a C2 body, and nothing else on the
// Engine.IO routes answers 401.
func (gw *Gateway) countUpgradeRefusal(c *fiber.Ctx) {
	if gw.metrics == nil || c.Response().StatusCode() != fiber.StatusUnauthorized {
		return
	}
	var body struct {
		Code gatehouse.Code `json:"code"`
	}
	if json.Unmarshal(c.Response().Body(), &body) != nil || body.Code == "" {
		body.Code = gatehouse.CodeUnauthorized
	}
	gw.metrics.UpgradeRefused(string(body.Code))
}
