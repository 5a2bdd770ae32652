package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values with a meaning of their own.
const (
	// UnknownEvent is the event label of every event the config does not
	// declare: clients choose event names, so they must not become labels.
	UnknownEvent = "_unknown"
	// CodeOK is the code label of an event that was handled without error.
	CodeOK = "ok"
)

// Results of a session's move, counted by the node it moves to.
const (
	// MoveMoved is a session made here again, carried by its WebSocket.
	MoveMoved = "moved"
	// MoveFailed is a move that did not happen for another reason than a
	// bound (no node let the session go, or it could not be made here):
	// the client opens a new session.
	MoveFailed = "failed"
	// MoveRefused is a move a bound refused (move_queue on the old node,
	// move_buffer here), also counted in the limit refusals.
	MoveRefused = "refused"
)

// prefix starts every metric name of the gateway.
const prefix = "gatehouse"

// handlerBuckets span in-memory handlers (tens of microseconds) to
// webhooks near their timeout (seconds).
var handlerBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// ConnectionCount is how many sockets are connected to one namespace over
// one transport.
type ConnectionCount struct {
	Namespace string
	Transport string
	Sockets   int
}

// AdapterStatus is what the metrics read from the cluster adapter.
type AdapterStatus interface {
	// State reports whether other nodes can be reached and, when not, why.
	State() (up bool, cause string)
	// Errors counts the adapter's failures since start.
	Errors() uint64
}

// Sources are read at each scrape rather than counted as things happen:
// a socket's transport changes when it upgrades, and the adapter keeps its
// own counts.
type Sources struct {
	// Connections lists the sockets connected now, by namespace and
	// transport; nil reports none.
	Connections func() []ConnectionCount
	// Sessions is the number of open Engine.IO sessions; nil reports none.
	Sessions func() int
	// Adapter is the cluster adapter; nil leaves out the adapter metrics.
	Adapter AdapterStatus
	// AdapterKind is the adapter label of the adapter metrics ("memory",
	// "redis").
	AdapterKind string
	// LimitRefusals are the refusals of each limit since start, by limit
	// name; nil reports none.
	LimitRefusals func() map[string]uint64
}

// Metrics are one gateway's metrics and the registry that exports them.
// Its methods are safe for concurrent use, and do nothing on a nil
// *Metrics.
type Metrics struct {
	registry *prometheus.Registry

	upgradesRefused *prometheus.CounterVec
	connects        *prometheus.CounterVec
	connectsRefused *prometheus.CounterVec
	disconnects     *prometheus.CounterVec
	events          *prometheus.CounterVec
	guardDenials    *prometheus.CounterVec
	handlerDuration *prometheus.HistogramVec
	broadcasts      *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	queueDrops      *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	sessionMoves    *prometheus.CounterVec
	forwarded       *prometheus.CounterVec
}

// New builds the metrics of one gateway in a registry of their own, with
// the Go runtime and process collectors.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		upgradesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "upgrades_refused_total",
			Help: "Engine.IO requests refused with 401 because their token did not verify, by error code.",
		}, []string{"code"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "connects_total",
			Help: "Namespace CONNECTs accepted, by namespace.",
		}, []string{"namespace"}),
		connectsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "connects_refused_total",
			Help: "Namespace CONNECTs refused with CONNECT_ERROR, by namespace and error code.",
		}, []string{"namespace", "code"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "disconnects_total",
			Help: "Sockets that left a namespace, by namespace.",
		}, []string{"namespace"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "events_total",
			Help: "Client events handled, by namespace, event (_unknown when not declared) and result code (ok on success).",
		}, []string{"namespace", "event", "code"}),
		guardDenials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "guard_denials_total",
			Help: "Connects and events a guard refused, by guard name and error code.",
		}, []string{"guard", "code"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: prefix, Name: "handler_duration_seconds",
			Help:    "Time spent in handlers, by namespace, event (connect and disconnect for on_connect and on_disconnect) and handler type.",
			Buckets: handlerBuckets,
		}, []string{"namespace", "event", "handler"}),
		broadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "broadcasts_total",
			Help: "Broadcasts delivered to this node's sockets (from handlers, the server API or other nodes), by namespace.",
		}, []string{"namespace"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "broadcast_deliveries_total",
			Help: "Packets of broadcasts queued to this node's sockets, one per recipient, by namespace.",
		}, []string{"namespace"}),
		queueDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "send_queue_drops_total",
			Help: "Connections closed as slow consumers because their outbound queue was full, by transport.",
		}, []string{"transport"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "config_reloads_total",
			Help: "Config reloads (SIGHUP or --watch), by result: applied or refused.",
		}, []string{"result"}),
		sessionMoves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "session_moves_total",
			Help: "Sessions of other nodes whose WebSocket upgrade came here (cluster.any_node), by result: moved, failed or refused.",
		}, []string{"result"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Name: "forwarded_requests_total",
			Help: "Requests for other nodes' sessions handed to their owner (cluster.any_node), by kind (polling or websocket) and result.",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.upgradesRefused, m.connects, m.connectsRefused, m.disconnects, m.events, m.guardDenials,
		m.handlerDuration, m.broadcasts, m.deliveries, m.queueDrops, m.reloads, m.sessionMoves, m.forwarded,
		&connectionsCollector{source: src.Connections},
		&limitsCollector{source: src.LimitRefusals},
	)
	if src.Sessions != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: prefix, Name: "engineio_sessions",
			Help: "Engine.IO sessions open now, whether or not they joined a namespace.",
		}, func() float64 { return float64(src.Sessions()) }))
	}
	if a := src.Adapter; a != nil {
		labels := prometheus.Labels{"adapter": src.AdapterKind}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: prefix, Name: "adapter_up", ConstLabels: labels,
				Help: "1 when the cluster adapter reaches the other nodes, 0 when it does not.",
			}, func() float64 {
				if up, _ := a.State(); up {
					return 1
				}
				return 0
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: prefix, Name: "adapter_errors_total", ConstLabels: labels,
				Help: "Cluster adapter failures since start: cross-node messages dropped or not received.",
			}, func() float64 { return float64(a.Errors()) }),
		)
	}
	return m
}

// Registry is the registry the metrics are exported from; plugins may
// register metrics of their own in it.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// UpgradeRefused counts an Engine.IO request refused at the upgrade-time
// token check with code.
func (m *Metrics) UpgradeRefused(code string) {
	if m == nil {
		return
	}
	m.upgradesRefused.WithLabelValues(code).Inc()
}

// Reload counts a config reload with its result, "applied" or "refused".
func (m *Metrics) Reload(result string) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(result).Inc()
}

// SessionMoved counts a move of a session to this node with its result:
// MoveMoved, MoveFailed or MoveRefused.
func (m *Metrics) SessionMoved(result string) {
	if m == nil {
		return
	}
	m.sessionMoves.WithLabelValues(result).Inc()
}

// Forwarded counts a request for another node's session handed to its
// owner, of kind "polling" or "websocket", with the forward's result.
func (m *Metrics) Forwarded(kind, result string) {
	if m == nil {
		return
	}
	m.forwarded.WithLabelValues(kind, result).Inc()
}

// SocketConnected counts a socket accepted into namespace.
func (m *Metrics) SocketConnected(namespace string) {
	if m == nil {
		return
	}
	m.connects.WithLabelValues(namespace).Inc()
}

// SocketDisconnected counts a socket that left namespace.
func (m *Metrics) SocketDisconnected(namespace string) {
	if m == nil {
		return
	}
	m.disconnects.WithLabelValues(namespace).Inc()
}

// ConnectRefused counts a CONNECT to namespace refused with code.
func (m *Metrics) ConnectRefused(namespace, code string) {
	if m == nil {
		return
	}
	m.connectsRefused.WithLabelValues(namespace, code).Inc()
}

// Event counts one client event and its outcome: CodeOK, or the error
// code it was refused with. event must be a declared event or
// UnknownEvent.
func (m *Metrics) Event(namespace, event, code string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(namespace, event, code).Inc()
}

// EventCounter is the counter that Event(namespace, event, code)
// increments. A caller that counts the same series at every event looks it
// up once and keeps it, which spares the hashing of three label values per
// event. It is nil on a nil *Metrics.
func (m *Metrics) EventCounter(namespace, event, code string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.events.WithLabelValues(namespace, event, code)
}

// GuardDenied counts a refusal by the guard declared as guard.
func (m *Metrics) GuardDenied(guard, code string) {
	if m == nil {
		return
	}
	m.guardDenials.WithLabelValues(guard, code).Inc()
}

// HandlerObserved records how long one handler of type handler took for
// event in namespace.
func (m *Metrics) HandlerObserved(namespace, event, handler string, took time.Duration) {
	if m == nil {
		return
	}
	m.handlerDuration.WithLabelValues(namespace, event, handler).Observe(took.Seconds())
}

// HandlerObserver is the histogram that HandlerObserved(namespace, event,
// handler, took) records into, in seconds, for callers that keep it (see
// EventCounter). It is nil on a nil *Metrics.
func (m *Metrics) HandlerObserver(namespace, event, handler string) prometheus.Observer {
	if m == nil {
		return nil
	}
	return m.handlerDuration.WithLabelValues(namespace, event, handler)
}

// Broadcast counts one broadcast in namespace queued to recipients local
// sockets.
func (m *Metrics) Broadcast(namespace string, recipients int) {
	if m == nil {
		return
	}
	m.broadcasts.WithLabelValues(namespace).Inc()
	if recipients > 0 {
		m.deliveries.WithLabelValues(namespace).Add(float64(recipients))
	}
}

// QueueDropped counts a connection over transport closed because its
// outbound queue was full.
func (m *Metrics) QueueDropped(transport string) {
	if m == nil {
		return
	}
	m.queueDrops.WithLabelValues(transport).Inc()
}

// connectionsCollector reports the connected sockets at scrape time, so
// that a socket counts under the transport it has now, after an upgrade.
type connectionsCollector struct {
	source func() []ConnectionCount
}

var connectionsDesc = prometheus.NewDesc(prefix+"_connections",
	"Sockets connected now, by namespace and current transport.", []string{"namespace", "transport"}, nil)

// Describe implements prometheus.Collector.
func (c *connectionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- connectionsDesc }

// Collect implements prometheus.Collector.
func (c *connectionsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.source == nil {
		return
	}
	for _, count := range c.source() {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(count.Sockets), count.Namespace, count.Transport)
	}
}

// limitsCollector reports the refusals of the gateway's limits, which the
// gateway counts itself so that the limits work without metrics too.
type limitsCollector struct {
	source func() map[string]uint64
}

var limitsDesc = prometheus.NewDesc(prefix+"_limit_refusals_total",
	"Connections, namespace connects and events refused by a limit of server.limits (or by the drain), by limit.",
	[]string{"limit"}, nil)

// Describe implements prometheus.Collector.
func (c *limitsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- limitsDesc }

// Collect implements prometheus.Collector.
func (c *limitsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.source == nil {
		return
	}
	for limit, n := range c.source() {
		ch <- prometheus.MustNewConstMetric(limitsDesc, prometheus.CounterValue, float64(n), limit)
	}
}
