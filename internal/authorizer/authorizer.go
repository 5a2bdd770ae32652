package authorizer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse"
)

// Policy says what a call that got no usable answer (timeout, connection
// refused, a 5xx, a malformed answer) decides.
type Policy string

// The policies of Config.OnError.
const (
	// FailClosed refuses the socket with upstream_timeout or upstream_error.
	FailClosed Policy = "deny"
	// FailOpen lets the socket in with the claims it already had (those of
	// a JWT verified before, or none), and says so in Decision.FailedOpen.
	FailOpen Policy = "allow"
)

// Defaults of the zero values of Config, as gateway.yaml documents them.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxRequest  = 16 << 10
	DefaultMaxAnswer   = 16 << 10
	DefaultMaxInFlight = 1000
)

// Config is what one authorizer is built from.
type Config struct {
	// URL is the backend endpoint the request is POSTed to.
	URL string
	// Timeout bounds one call, answer included.
	Timeout time.Duration
	// RequestHeaders are added to every request, such as an Authorization
	// header with a secret the backend checks.
	RequestHeaders map[string]string
	// OnError is the policy when the backend gives no usable answer.
	OnError Policy
	// Cache bounds the answers remembered; a zero Size or TTL remembers none.
	Cache CacheConfig
	// MaxRequest bounds the JSON body sent for one socket: a client that
	// presents more is refused with payload_too_large, and the backend is
	// not called.
	MaxRequest int
	// MaxAnswer bounds the answer read back; a longer one is an error.
	MaxAnswer int
	// Forward names the headers and cookies of the handshake request that
	// the request carries.
	Forward Forward
	// MaxInFlight bounds the distinct calls waiting on the backend at once;
	// a socket beyond it is refused with unavailable, whatever OnError says,
	// so that an attacker cannot push the gateway into failing open.
	MaxInFlight int
}

// CacheConfig bounds the answers an authorizer remembers.
type CacheConfig struct {
	// Size is the most answers kept.
	Size int
	// TTL is the longest an answer is kept; an answer with a lifetime is
	// never kept past it.
	TTL time.Duration
	// MaxBytes bounds the bytes of the answers kept (their claims and
	// messages, plus a fixed overhead per entry).
	MaxBytes int
}

// Options are what the gateway gives an authorizer beside its Config.
type Options struct {
	// Namespace labels the metrics and logs.
	Namespace string
	// Logger defaults to one that discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Client makes the calls; nil builds one for the backend.
	Client *http.Client
}

// Authorizer asks one backend. Its methods are safe for concurrent use.
type Authorizer struct {
	cfg     Config
	header  http.Header
	client  *http.Client
	cache   *cache
	flights *flights
	metrics *metrics
	logger  *slog.Logger
	now     func() time.Time
	// failures spaces the warnings of failed calls.
	failures failureLog
}

// New returns an authorizer for cfg, with the defaults of its zero values.
func New(cfg Config, opts Options) (*Authorizer, error) {
	cfg = withDefaults(cfg)
	header, err := requestHeader(cfg.RequestHeaders)
	if err != nil {
		return nil, err
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = newClient()
	}
	m, err := newMetrics(opts.Registerer, opts.Namespace)
	if err != nil {
		return nil, err
	}
	return &Authorizer{
		cfg:     cfg,
		header:  header,
		client:  opts.Client,
		cache:   newCache(cfg.Cache),
		flights: newFlights(cfg.MaxInFlight),
		metrics: m,
		logger:  opts.Logger.With("authorizer", redactedURL(cfg.URL), "namespace", opts.Namespace),
		now:     opts.Now,
	}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRequest <= 0 {
		cfg.MaxRequest = DefaultMaxRequest
	}
	if cfg.MaxAnswer <= 0 {
		cfg.MaxAnswer = DefaultMaxAnswer
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.OnError == "" {
		cfg.OnError = FailClosed
	}
	return cfg
}

// Decision is an authorizer's yes.
type Decision struct {
	// Claims are the claims the backend gave the socket (nil when it gave
	// none) or, when the call failed open, those of the Request.
	Claims gatehouse.Claims
	// Lifetime is how long the answer holds, from now; zero when the
	// backend gave none, and the socket is then never re-authorized.
	Lifetime time.Duration
	// FailedOpen is set when the backend gave no usable answer and the
	// policy let the socket in.
	FailedOpen bool
	// Cached is set when the answer came from the cache.
	Cached bool
}

// Authorize decides on a socket at CONNECT: from the cache when an answer
// to the same Request is remembered, else from the backend (one call for
// identical requests in flight together). A refusal is a *gatehouse.Error
// with a C2 code: the backend's, upstream_error or upstream_timeout under
// FailClosed, payload_too_large for a Request over MaxRequest, unavailable
// when MaxInFlight calls are already waiting.
func (a *Authorizer) Authorize(ctx context.Context, req Request) (*Decision, error) {
	return a.decide(ctx, req, ReasonConnect)
}

// Reauthorize decides again for a socket whose answer's lifetime is ending:
// always from the backend, whose fresh answer then replaces the remembered
// one. It refuses as Authorize does.
func (a *Authorizer) Reauthorize(ctx context.Context, req Request) (*Decision, error) {
	return a.decide(ctx, req, ReasonRefresh)
}

func (a *Authorizer) decide(ctx context.Context, req Request, reason string) (*Decision, error) {
	if len(req.Auth) > a.cfg.MaxRequest {
		// Refused before encoding: an auth payload of max_payload bytes
		// would otherwise be copied once more just to be measured.
		return nil, a.tooLarge()
	}
	req.Reason = ""
	keyBody, err := json.Marshal(req)
	if err != nil {
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "the CONNECT auth payload is not valid JSON")
	}
	if len(keyBody) > a.cfg.MaxRequest {
		return nil, a.tooLarge()
	}
	key := sha256.Sum256(keyBody)
	if reason == ReasonConnect {
		if e := a.cache.get(key, a.now()); e != nil {
			a.metrics.lookup(true)
			return e.decision(a.now(), true)
		}
		a.metrics.lookup(false)
	}
	req.Reason = reason
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("authorizer: encode request: %w", err)
	}
	e, err := a.flights.do(ctx, flightKey{key: key, reason: reason}, func() (*entry, error) {
		return a.call(body)
	})
	if err != nil {
		if gatehouse.AsError(err).Code == gatehouse.CodeUnavailable {
			a.metrics.outcome(outcomeBusy)
		}
		if ctx.Err() != nil {
			// The socket is gone or the gateway stops: nobody to let in.
			return nil, err
		}
		return a.failed(req, err)
	}
	a.cache.put(key, e, a.now(), a.cfg.Cache.TTL)
	return e.decision(a.now(), false)
}

// tooLarge counts and words the refusal of a request over MaxRequest.
func (a *Authorizer) tooLarge() error {
	a.metrics.outcome(outcomeTooLarge)
	return gatehouse.Errorf(gatehouse.CodePayloadTooLarge,
		"what the client presented to the authorizer is larger than %d bytes", a.cfg.MaxRequest)
}

// failed applies the policy to a call that got no usable answer.
func (a *Authorizer) failed(req Request, err error) (*Decision, error) {
	if gatehouse.AsError(err).Code == gatehouse.CodeUnavailable {
		return nil, err
	}
	a.logFailure(err)
	if a.cfg.OnError != FailOpen {
		return nil, err
	}
	return &Decision{Claims: req.Claims, FailedOpen: true}, nil
}

// failureLogEvery spaces the warnings of failed calls: an outage of the
// backend fails every CONNECT, and is one line every few seconds with the
// count since the last, not one per socket.
const failureLogEvery = 10 * time.Second

// failureLog counts failed calls between two warnings.
type failureLog struct {
	mu     sync.Mutex
	last   time.Time
	failed int
}

// logFailure warns of a failed call, or counts it toward the next warning.
func (a *Authorizer) logFailure(err error) {
	f := &a.failures
	f.mu.Lock()
	f.failed++
	now := a.now()
	if !f.last.IsZero() && now.Sub(f.last) < failureLogEvery {
		f.mu.Unlock()
		return
	}
	failed := f.failed
	f.failed, f.last = 0, now
	f.mu.Unlock()
	a.logger.Warn("authorizer call failed", "error", err, "failed", failed, "on_error", string(a.cfg.OnError))
}

// Gather returns the forwarded headers and cookies of a handshake request
// whose headers header looks up.
func (a *Authorizer) Gather(header func(name string) string) (headers, cookies map[string]string) {
	return a.cfg.Forward.Gather(header)
}

// Close releases the idle connections to the backend; calls in flight
// finish on their own within their timeout. It implements gatehouse.Closer.
func (a *Authorizer) Close(context.Context) error {
	a.client.CloseIdleConnections()
	return nil
}

// redactedURL is u without its query, user info and fragment, for logs:
// a backend's URL may carry a key in its query.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
