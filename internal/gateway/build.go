package gateway

import (
	"context"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/authorizer"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// namespaceRuntime is one declared namespace, built and ready to serve.
type namespaceRuntime struct {
	name          string
	auth          string // required, optional or none
	connectGuards []namedGuard
	onConnect     []namedHandler
	onDisconnect  []namedHandler
	events        map[string]*eventRuntime
	// maxConnections caps the namespace's sockets across the cluster; 0
	// means no cap.
	maxConnections int
	// authorizer is asked at CONNECT after the token check; nil when the
	// namespace declares none.
	authorizer *authorizer.Authorizer
	// authorizerAt is "upgrade" when the authorizer is asked at the
	// Engine.IO handshake instead.
	authorizerAt string
	// recovery keeps lost sessions for their clients; nil when off.
	recovery *gatewayconfig.Recovery
	// history keeps the last messages of rooms; nil when off.
	history *gatewayconfig.History
	// broadcast is what a broadcast does here besides reaching the
	// sockets (recovery, history), nil when nothing (see planBroadcasts).
	broadcast *socketio.BroadcastPlan
}

// eventRuntime is one declared event: its guard chain and handlers, in order.
type eventRuntime struct {
	name     string
	guards   []namedGuard
	handlers []namedHandler
	// mayBlock is set when a guard or handler of the event may wait (see
	// gatehouse.Blocking), so that the event cannot run on the read path.
	mayBlock bool
	// cheapGuards counts the leading guards that cannot block and decide on
	// the payload alone: they run before the event waits in the socket's
	// queue (see park).
	cheapGuards int
	// counters are the event's metric series, set at its first dispatch
	// (see Gateway.eventCounters).
	counters atomic.Pointer[eventCounters]
}

// namedGuard keeps the declared name beside the guard for logs and metrics.
type namedGuard struct {
	name  string
	guard guards.Guard
}

// namedHandler keeps the handler's type beside it for metrics.
type namedHandler struct {
	typ     string
	handler handlers.Handler
}

// Registries are the guard and handler types a gateway may build from.
type Registries struct {
	Guards   *guards.Registry
	Handlers *handlers.Registry
}

// DefaultRegistries are the registries filled by guards.Register and
// handlers.Register.
func DefaultRegistries() Registries {
	return Registries{Guards: guards.Default(), Handlers: handlers.Default()}
}

// buildNamespaces builds every guard, handler and namespace of cfg for a
// caller that only looks at them (validate, plans): the instances are
// closed (gatehouse.Closer) before it returns. Errors are collected,
// positioned, and returned together as a gatewayconfig.ErrorList.
func buildNamespaces(cfg *gatewayconfig.Config, reg Registries, env *hostEnv) (map[string]*namespaceRuntime, error) {
	namespaces, built, err := buildRuntime(cfg, reg, env)
	ctx, cancel := context.WithTimeout(context.Background(), pluginCloseGrace)
	defer cancel()
	_ = built.close(ctx)
	return namespaces, err
}

// buildRuntime builds every guard, handler and namespace of cfg, each
// instance given its host by env (nil gives the default host), and returns
// the instances built so that the caller closes them when done with them.
// When the config does not build, the instances built are closed here.
func buildRuntime(cfg *gatewayconfig.Config, reg Registries, env *hostEnv) (map[string]*namespaceRuntime, *instances, error) {
	built := &instances{}
	var errs gatewayconfig.ErrorList

	declared := make(map[string]guards.Guard, len(cfg.Guards))
	for _, decl := range cfg.Guards {
		factory, ok := reg.Guards.Lookup(decl.Type)
		if !ok {
			errs = append(errs, gatewayconfig.Errorf(decl.Pos, "guard %q: unknown guard type %q%s; known types: %v",
				decl.Name, decl.Type, gatewayconfig.Suggest(decl.Type, reg.Guards.Names()), reg.Guards.Names()))
			continue
		}
		g, err := factory(env.options("guard", decl.Name, decl.Options))
		if err != nil {
			errs = errs.Append(decl.Pos, err)
			continue
		}
		built.add(g)
		declared[decl.Name] = g
	}
	resolve := func(refs []gatewayconfig.Ref) []namedGuard {
		chain := make([]namedGuard, 0, len(refs))
		for _, ref := range refs {
			// Unknown names were reported by the config loader; a guard
			// whose factory failed was reported above.
			if g, ok := declared[ref.Name]; ok {
				chain = append(chain, namedGuard{name: ref.Name, guard: g})
			}
		}
		return chain
	}
	buildHandlers := func(decls []gatewayconfig.HandlerDecl) []namedHandler {
		out := make([]namedHandler, 0, len(decls))
		for _, decl := range decls {
			factory, ok := reg.Handlers.Lookup(decl.Type)
			if !ok {
				errs = append(errs, gatewayconfig.Errorf(decl.Pos, "unknown handler type %q%s; known types: %v",
					decl.Type, gatewayconfig.Suggest(decl.Type, reg.Handlers.Names()), reg.Handlers.Names()))
				continue
			}
			h, err := factory(env.options("handler", decl.Type, decl.Options))
			if err != nil {
				errs = errs.Append(decl.Pos, err)
				continue
			}
			built.add(h)
			out = append(out, namedHandler{typ: decl.Type, handler: h})
		}
		return out
	}

	namespaces := make(map[string]*namespaceRuntime, len(cfg.Namespaces))
	for _, ns := range cfg.Namespaces {
		rt := &namespaceRuntime{
			name:          ns.Name,
			auth:          ns.Auth,
			connectGuards: resolve(ns.Guards),
			onConnect:     buildHandlers(ns.OnConnect),
			onDisconnect:  buildHandlers(ns.OnDisconnect),
			events:        make(map[string]*eventRuntime, len(ns.Events)),
		}
		if a, err := buildAuthorizer(ns, env); err != nil {
			errs = errs.Append(ns.Pos, err)
		} else if a != nil {
			built.add(a)
			rt.authorizer, rt.authorizerAt = a, ns.Authorizer.At
		}
		rt.maxConnections = ns.MaxConnections
		rt.recovery = ns.Recovery
		rt.history = ns.History
		for _, ev := range ns.Events {
			if _, reserved := reservedEvents[ev.Name]; reserved {
				errs = append(errs, gatewayconfig.Errorf(ev.Pos, "event %q is reserved by the protocol or the gateway", ev.Name))
				continue
			}
			chain, hs := resolve(ev.Guards), buildHandlers(ev.Handlers)
			rt.events[ev.Name] = &eventRuntime{name: ev.Name, guards: chain, handlers: hs,
				mayBlock: chainMayBlock(chain, hs), cheapGuards: leadingCheapGuards(chain)}
		}
		namespaces[ns.Name] = rt
	}
	if err := errs.Err(); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), pluginCloseGrace)
		defer cancel()
		_ = built.close(ctx)
		return nil, nil, err
	}
	return namespaces, built, nil
}

// reservedEvents cannot be declared: the client library or the gateway
// gives them a meaning of their own.
var reservedEvents = reserved.Gateway()

// chainMayBlock reports whether any guard or handler of an event may wait.
func chainMayBlock(chain []namedGuard, hs []namedHandler) bool {
	for _, g := range chain {
		if gatehouse.MayBlock(g.guard) {
			return true
		}
	}
	for _, h := range hs {
		if gatehouse.MayBlock(h.handler) {
			return true
		}
	}
	return false
}

// leadingCheapGuards counts the guards at the head of chain that cannot
// block and may decide when an event arrives (guards.OnArrival): they run
// on the session's read path before the event waits in its socket's queue.
func leadingCheapGuards(chain []namedGuard) int {
	for i, g := range chain {
		early, ok := g.guard.(guards.OnArrival)
		if gatehouse.MayBlock(g.guard) || !ok || !early.CheckOnArrival() {
			return i
		}
	}
	return len(chain)
}
