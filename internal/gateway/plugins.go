package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/deadline"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// pluginCloseGrace bounds how long a reload waits for the events still
// running under the config it replaced (see stateUsers) before it closes
// that config's guards and handlers: an event that
// outlives it may meet a closed instance, which a Closer should answer with
// an error rather than a crash.
const pluginCloseGrace = 30 * time.Second

// hostEnv is what every guard and handler of one gateway is given (see
// gatehouse.Host), and how their instances get it.
type hostEnv struct {
	logger      *slog.Logger
	metrics     prometheus.Registerer
	publisher   gatehouse.Publisher
	distributed bool
	// shared is the state every node shares, kept by the adapter's backend
	// (rate_limit with store: redis); nil when the adapter keeps none.
	shared gatehouse.SharedStore
	// history reads the rooms' history; nil for a host that only builds
	// instances to look at them.
	history gatehouse.HistoryReader
	// presence tells who is in a room; nil as history is.
	presence gatehouse.PresenceReader
	// expiries runs the deadlines of the sockets' tokens, with one
	// runtime timer for all of them, across reloads.
	expiries *deadline.Scheduler
}

// newHostEnv builds the host parts of a gateway with adapter a; metrics is
// the gateway's registry, nil when metrics are off.
func newHostEnv(a adapter.Adapter, logger *slog.Logger, metrics *prometheus.Registry) *hostEnv {
	env := &hostEnv{logger: logger, publisher: a, expiries: &deadline.Scheduler{}}
	if metrics != nil {
		env.metrics = metrics
	}
	env.distributed = a.Distributed()
	if s, ok := a.(adapter.SharedStore); ok {
		env.shared = s
	}
	return env
}

// options returns o carrying the host of one instance: a guard declared as
// name, or a handler of type name.
func (env *hostEnv) options(kind, name string, o gatewayconfig.Options) gatewayconfig.Options {
	if env == nil {
		return o
	}
	logger := env.logger.With(kind, name, "config", o.Pos().String())
	o = o.WithHost(gatehouse.NewHost(gatehouse.HostOptions{
		Logger: logger, Metrics: env.metrics, Publisher: env.publisher, Distributed: env.distributed,
		SharedStore: env.shared, History: env.history, Presence: env.presence,
	}))
	return o
}

// instances are the guards and handlers one config built, in build order,
// so that they can be closed (gatehouse.Closer) when the config is done.
type instances struct {
	mu   sync.Mutex
	list []any
	done bool
}

// add records a built instance.
func (is *instances) add(v any) {
	is.mu.Lock()
	is.list = append(is.list, v)
	is.mu.Unlock()
}

// close closes every instance that implements gatehouse.Closer, the last
// built first, once; it returns their errors joined. A nil is has none.
func (is *instances) close(ctx context.Context) error {
	if is == nil {
		return nil
	}
	is.mu.Lock()
	list, done := is.list, is.done
	is.list, is.done = nil, true
	is.mu.Unlock()
	if done {
		return nil
	}
	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		c, ok := list[i].(gatehouse.Closer)
		if !ok {
			continue
		}
		if err := c.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close %T: %w", list[i], err))
		}
	}
	return errors.Join(errs...)
}

// closePlugins closes the guards and handlers of st and logs what failed.
func (gw *Gateway) closePlugins(ctx context.Context, st *state) {
	if err := st.plugins.close(ctx); err != nil {
		gw.logger.Warn("closing guards and handlers", "error", err)
	}
}

// stateUsers counts the events and connection hooks running under one
// state (from the event's lookup of its config to its answer, parked in
// the socket's queue included), so that the guards and handlers of a state
// a reload replaced are closed as soon as the last of them is done, not
// when the whole gateway happens to be idle. An atomic count: events take
// and give it back without a lock or an allocation.
type stateUsers struct {
	running atomic.Int64
	retired atomic.Bool
	once    sync.Once
	// idle is closed once the state is retired and nothing runs under it;
	// made by retire, before retired is set, so readers seeing retired see it.
	idle chan struct{}
}

// release gives back one use of the state.
func (u *stateUsers) release() {
	if u.running.Add(-1) == 0 && u.retired.Load() {
		u.signal()
	}
}

// retire marks the state replaced and returns a channel closed once
// nothing runs under it any more.
func (u *stateUsers) retire() <-chan struct{} {
	u.idle = make(chan struct{})
	u.retired.Store(true)
	if u.running.Load() == 0 {
		u.signal()
	}
	return u.idle
}

func (u *stateUsers) signal() { u.once.Do(func() { close(u.idle) }) }

// useState returns the current state counted as used until the caller
// calls its users.release. The state is read again after counting: a
// reload that swapped it in between may already have found it unused and
// closed its instances, in which case the newer state is taken instead.
func (gw *Gateway) useState() *state {
	for {
		st := gw.current.Load()
		st.users.running.Add(1)
		if gw.current.Load() == st {
			return st
		}
		st.users.release()
	}
}

// retire closes the guards and handlers of a state a reload replaced, once
// the events and connection hooks running under it have finished (see
// stateUsers) or pluginCloseGrace has passed, off the reload's goroutine;
// Shutdown waits for it.
func (gw *Gateway) retire(st *state) {
	idle := st.users.retire()
	gw.retiring.Add(1)
	go func() {
		defer gw.retiring.Done()
		grace := time.NewTimer(pluginCloseGrace)
		defer grace.Stop()
		select {
		case <-idle:
		case <-grace.C:
			gw.logger.Warn("closing replaced guards and handlers while events still use them",
				"events", st.users.running.Load(), "waited", pluginCloseGrace)
		}
		closeCtx, cancelClose := context.WithTimeout(context.Background(), pluginCloseGrace)
		defer cancelClose()
		gw.closePlugins(closeCtx, st)
	}()
}

// waitRetiring waits for the replaced states being closed, or for ctx.
func (gw *Gateway) waitRetiring(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		gw.retiring.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
