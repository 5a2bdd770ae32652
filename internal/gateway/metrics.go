package gateway

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/admin"
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

// eventCounters are the series an event's successful dispatch records,
// looked up once per event of a config rather than by label values at
// every event.
type eventCounters struct {
	ok prometheus.Counter
	// handlers are the duration histograms of the event's handlers, in
	// their order.
	handlers []prometheus.Observer
}

// eventCounters returns the series of a declared event, nil when metrics
// are off or t is not a declared event. They are built at the event's
// first dispatch: the config is built before the metrics, and a reload
// builds new events.
func (gw *Gateway) eventCounters(t eventTarget) *eventCounters {
	if gw.metrics == nil || t.ev == nil {
		return nil
	}
	if c := t.ev.counters.Load(); c != nil {
		return c
	}
	c := &eventCounters{
		ok:       gw.metrics.EventCounter(t.ns.name, t.ev.name, metrics.CodeOK),
		handlers: make([]prometheus.Observer, len(t.ev.handlers)),
	}
	for i, h := range t.ev.handlers {
		c.handlers[i] = gw.metrics.HandlerObserver(t.ns.name, t.ev.name, h.typ)
	}
	// Two first dispatches may race to build them; both build the same.
	t.ev.counters.Store(c)
	return c
}

// countUpgradeRefusal counts an Engine.IO request the upgrade-time token
// check refused: it answered 401 with a C2 body, and nothing else on the
// Engine.IO routes answers 401.
func (gw *Gateway) countUpgradeRefusal(c *fiber.Ctx) {
	if (gw.metrics == nil && !gw.keepsRefusals()) || c.Response().StatusCode() != fiber.StatusUnauthorized {
		return
	}
	var body struct {
		Code    gatehouse.Code `json:"code"`
		Message string         `json:"message"`
	}
	if json.Unmarshal(c.Response().Body(), &body) != nil || body.Code == "" {
		body.Code = gatehouse.CodeUnauthorized
	}
	gw.metrics.UpgradeRefused(string(body.Code))
	gw.noteRefusal(admin.StageUpgrade, "", "", c.IP(), gatehouse.Errorf(body.Code, "%s", body.Message))
}
