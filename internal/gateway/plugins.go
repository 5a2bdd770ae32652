package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// pluginCloseGrace bounds how long a reload waits for the events in flight
// before it closes the guards and handlers it replaced: an event that
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
	// shared is the Redis connection guards keeping state across nodes use
	// (rate_limit with store: redis); nil without the Redis adapter.
	shared *guards.SharedRedis
}

// newHostEnv builds the host parts of a gateway with adapter a; metrics is
// the gateway's registry, nil when metrics are off.
func newHostEnv(a adapter.Adapter, logger *slog.Logger, metrics *prometheus.Registry) *hostEnv {
	env := &hostEnv{logger: logger, publisher: a}
	if metrics != nil {
		env.metrics = metrics
	}
	if _, alone := a.(*adapter.Memory); !alone {
		env.distributed = true
	}
	if r, ok := a.(*adapter.Redis); ok {
		env.shared = &guards.SharedRedis{Client: r.Client(), Prefix: r.Prefix(), Logger: logger}
	}
	return env
}

// options returns o carrying the host of one instance: a guard declared as
// name, or a handler of type name.
func (env *hostEnv) options(kind, name string, o config.Options) config.Options {
	if env == nil {
		return o
	}
	logger := env.logger.With(kind, name, "config", o.Pos().String())
	o = o.WithHost(gatehouse.NewHost(gatehouse.HostOptions{
		Logger: logger, Metrics: env.metrics, Publisher: env.publisher, Distributed: env.distributed,
	}))
	if env.shared != nil {
		o = guards.WithSharedRedis(o, env.shared)
	}
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

// retire closes the guards and handlers of a state a reload replaced, once
// the events in flight have finished or pluginCloseGrace has passed, off
// the reload's goroutine; Shutdown waits for it.
func (gw *Gateway) retire(st *state) {
	gw.retiring.Add(1)
	go func() {
		defer gw.retiring.Done()
		ctx, cancel := context.WithTimeout(context.Background(), pluginCloseGrace)
		defer cancel()
		// Events of the new state count too: waiting for them as well only
		// delays the close, never closes early.
		_ = gw.inFlight.wait(ctx)
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
