package gatehouse

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Host is what the gateway gives each guard or handler instance it builds,
// beside its options: the same for built-ins and plugins, so that a plugin
// can do whatever a built-in does. A factory keeps what it needs of it in
// the instance it returns.
type Host interface {
	// Logger is scoped to the instance: its records carry the guard's
	// declared name or the handler's type, and where its options are
	// written (file:line:col), so an operator finds the YAML behind a line.
	Logger() *slog.Logger
	// Metrics registers collectors with the gateway's Prometheus registry,
	// the one served at server.metrics_path (a registry of its own, not
	// served, when metrics are off). A reload builds the instance again
	// while the old one still runs: on a prometheus.AlreadyRegisteredError,
	// use its ExistingCollector.
	Metrics() prometheus.Registerer
	// Publisher hands messages to the cluster adapter's channels, where
	// backends listen; nil for a host without an adapter (NewHost's
	// default, for tests).
	Publisher() Publisher
	// Distributed reports whether the adapter carries messages to other
	// nodes (adapter: redis): what reaches the cluster then goes over the
	// network, and an instance doing so says it may block (see Blocking).
	Distributed() bool
	// SharedStore is state every node of the cluster shares, kept by the
	// adapter's backend (adapter: redis); nil when the adapter has none.
	SharedStore() SharedStore
	// Now is the host's clock.
	Now() time.Time
	// History reads the rooms' history (namespaces[].history); nil when
	// the host keeps none (NewHost's default, for tests).
	History() HistoryReader
	// Presence tells who is in a room (namespaces[].presence); nil when
	// the host keeps none (NewHost's default, for tests).
	Presence() PresenceReader
}

// SharedStore is state kept once for the whole cluster, so that a limit
// holds across nodes whichever node a client reaches. Its calls go over the
// network: an instance using it says it may block (see Blocking), and
// decides itself what an error means (a limiter usually lets the event
// through rather than turn a store outage into a gateway outage).
type SharedStore interface {
	// TakeToken takes a token from the bucket named key, which gains one
	// token every interval and holds at most burst; the bucket is made full
	// on first use and forgotten once full again. It reports whether a
	// token was taken and, when not, how long until one is. The store's
	// clock decides, so nodes whose clocks differ share one bucket. Keys
	// are the caller's: the store puts them under the gateway's prefix.
	TakeToken(ctx context.Context, key string, interval time.Duration, burst int) (ok bool, retryAfter time.Duration, err error)
}

// Publisher delivers a message to a channel of the cluster adapter.
type Publisher interface {
	Publish(ctx context.Context, channel string, message []byte) error
}

// Closer is implemented by guards and handlers that hold something to give
// back (a connection pool, a goroutine, a file). The gateway calls Close
// once: when a reload has replaced the instance and the events that started
// under the old config have finished (or a bound has passed), when the
// gateway shuts down, and when a config fails to build after the instance
// was built. Close should return when ctx is done.
type Closer interface {
	Close(ctx context.Context) error
}

// Blocking is implemented by guards and handlers that say whether a call
// may wait on something outside the process: the network, a client's
// answer, a lock held long. The gateway asks each instance once, after
// building it, so an instance answers for its own options and its host (a
// broadcast blocks only when Host.Distributed). An event whose guards and
// handlers all report false runs on the connection's read path, with no
// goroutine switch; any other event runs on a queue of its own per socket,
// so that waiting never stalls the connection's reads. An instance without
// the method is taken to block.
type Blocking interface {
	MayBlock() bool
}

// MayBlock reports whether v may wait on something outside the process: it
// does unless it implements Blocking and says otherwise.
func MayBlock(v any) bool {
	b, ok := v.(Blocking)
	return !ok || b.MayBlock()
}

// HostOptions are the parts of a Host made by NewHost.
type HostOptions struct {
	// Logger defaults to one that discards.
	Logger *slog.Logger
	// Metrics defaults to a registry of its own.
	Metrics prometheus.Registerer
	// Publisher may be nil: no adapter.
	Publisher Publisher
	// Distributed is reported by Host.Distributed.
	Distributed bool
	// SharedStore may be nil: no store shared across nodes.
	SharedStore SharedStore
	// Now defaults to time.Now.
	Now func() time.Time
	// History may be nil: no history kept.
	History HistoryReader
	// Presence may be nil: no presence kept.
	Presence PresenceReader
}

// NewHost returns a Host made of o, for the gateway and for tests.
func NewHost(o HostOptions) Host {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &host{o: o}
}

// host is the Host NewHost returns.
type host struct{ o HostOptions }

func (h *host) Logger() *slog.Logger           { return h.o.Logger }
func (h *host) Metrics() prometheus.Registerer { return h.o.Metrics }
func (h *host) Publisher() Publisher           { return h.o.Publisher }
func (h *host) Distributed() bool              { return h.o.Distributed }
func (h *host) SharedStore() SharedStore       { return h.o.SharedStore }
func (h *host) Now() time.Time                 { return h.o.Now() }
func (h *host) History() HistoryReader         { return h.o.History }
func (h *host) Presence() PresenceReader       { return h.o.Presence }
