package authorizer

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a call to the backend, as the calls metric labels them.
const (
	outcomeAllowed  = "allowed"
	outcomeRefused  = "refused"
	outcomeTimeout  = "timeout"
	outcomeError    = "error"
	outcomeTooLarge = "too_large"
	outcomeBusy     = "busy"
)

// metrics are one authorizer's series of the gateway's authorizer metrics.
type metrics struct {
	calls   *prometheus.CounterVec
	lookups *prometheus.CounterVec
}

// newMetrics registers the authorizer metrics with reg, sharing them with
// an authorizer of the same namespace built before (a reload builds the
// new one while the old one still serves).
func newMetrics(reg prometheus.Registerer, namespace string) (*metrics, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_authorizer_calls_total",
		Help: "Authorizer decisions by outcome: allowed, refused, timeout, error (no usable answer), too_large (refused before calling), busy (refused at max_in_flight).",
	}, []string{"namespace", "outcome"})
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_authorizer_cache_total",
		Help: "Authorizer cache lookups at CONNECT by result: hit or miss.",
	}, []string{"namespace", "result"})
	var err error
	if calls, err = register(reg, calls); err != nil {
		return nil, err
	}
	if lookups, err = register(reg, lookups); err != nil {
		return nil, err
	}
	return &metrics{calls: calls.MustCurryWith(prometheus.Labels{"namespace": namespace}),
		lookups: lookups.MustCurryWith(prometheus.Labels{"namespace": namespace})}, nil
}

// register registers c with reg, or returns the collector registered
// before under the same name.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &already):
		if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("authorizer metrics: %w", err)
}

func (m *metrics) outcome(o string) { m.calls.WithLabelValues(o).Inc() }

func (m *metrics) lookup(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.lookups.WithLabelValues(result).Inc()
}
