package gateway

import (
	"context"
	"log/slog"

	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// Plan is what Build makes of a config's namespaces, told rather than
// served: each chain in the order the gateway runs it, with what the built
// guards and handlers say of themselves. `gatehouse explain` prints it.
type Plan struct {
	// Distributed is set when the adapter forwards broadcasts to other
	// nodes.
	Distributed bool
	Namespaces  []NamespacePlan // in file order
}

// NamespacePlan is one declared namespace as built.
type NamespacePlan struct {
	Name          string
	Auth          string // required, optional or none
	ConnectGuards []StepPlan
	OnConnect     []StepPlan
	OnDisconnect  []StepPlan
	Events        []EventPlan // in file order
}

// EventPlan is one declared event as built.
type EventPlan struct {
	Name     string
	Guards   []StepPlan
	Handlers []StepPlan
	// MayBlock is set when the event runs on its socket's queue rather than
	// on the connection's read path, as the gateway decides it
	// (eventMayBlock).
	MayBlock bool
	// OnArrival counts the leading guards that run before the event waits
	// in its socket's queue.
	OnArrival int
}

// StepPlan is one built guard or handler of a chain.
type StepPlan struct {
	// Name is the guard's declared name; empty for a handler.
	Name string
	// Type is the registered guard or handler type.
	Type string
	// Options are the options as written, after interpolation.
	Options gatewayconfig.Options
	// MayBlock is what the built instance says (handlers.MayBlock).
	MayBlock bool
}

// BuildPlan builds every guard and handler of cfg with the same functions
// and resources as Build (the adapter's Redis included), reports how the
// gateway would run them, and releases them. Errors are a gatewayconfig.ErrorList.
func BuildPlan(_ context.Context, cfg *gatewayconfig.Config, opts Options) (*Plan, error) {
	if opts.Registries.Guards == nil || opts.Registries.Handlers == nil {
		opts.Registries = DefaultRegistries()
	}
	logger := slog.New(slog.DiscardHandler)
	adp, err := newAdapter(cfg.Adapter, logger, nil)
	if err != nil {
		return nil, gatewayconfig.ErrorList{}.Append(cfg.PosOf("adapter.redis.url"), err).Err()
	}
	defer func() { _ = adp.Close() }()
	namespaces, err := buildNamespaces(cfg, opts.Registries, factoryResources(adp, logger))
	if err != nil {
		return nil, err
	}
	plan := &Plan{Distributed: adp.Distributed()}
	// The gateway's own rule decides where an event runs, asked of a
	// gateway that has only the adapter, so that the plan cannot drift
	// from it.
	decider := &Gateway{cluster: &cluster{adapter: adp}}
	guardTypes := make(map[string]gatewayconfig.GuardDecl, len(cfg.Guards))
	for _, decl := range cfg.Guards {
		guardTypes[decl.Name] = decl
	}
	for _, ns := range cfg.Namespaces {
		rt := namespaces[ns.Name]
		np := NamespacePlan{
			Name:          ns.Name,
			Auth:          rt.auth,
			ConnectGuards: guardSteps(rt.connectGuards, guardTypes),
			OnConnect:     handlerSteps(rt.onConnect, ns.OnConnect),
			OnDisconnect:  handlerSteps(rt.onDisconnect, ns.OnDisconnect),
		}
		for _, ev := range ns.Events {
			er := rt.events[ev.Name]
			np.Events = append(np.Events, EventPlan{
				Name:      ev.Name,
				Guards:    guardSteps(er.guards, guardTypes),
				Handlers:  handlerSteps(er.handlers, ev.Handlers),
				MayBlock:  decider.eventMayBlock(ev.Name, eventTarget{ns: rt, ev: er}),
				OnArrival: er.cheapGuards,
			})
		}
		plan.Namespaces = append(plan.Namespaces, np)
	}
	return plan, nil
}

// guardSteps describes a built guard chain; decls gives each declared
// name's type and options.
func guardSteps(chain []namedGuard, decls map[string]gatewayconfig.GuardDecl) []StepPlan {
	steps := make([]StepPlan, 0, len(chain))
	for _, g := range chain {
		decl := decls[g.name]
		steps = append(steps, StepPlan{Name: g.name, Type: decl.Type, Options: decl.Options,
			MayBlock: handlers.MayBlock(g.guard)})
	}
	return steps
}

// handlerSteps describes built handlers beside their declarations: a
// successful build has built each declaration, in order.
func handlerSteps(built []namedHandler, decls []gatewayconfig.HandlerDecl) []StepPlan {
	steps := make([]StepPlan, 0, len(built))
	for i, h := range built {
		step := StepPlan{Type: h.typ, MayBlock: handlers.MayBlock(h.handler)}
		if i < len(decls) {
			step.Options = decls[i].Options
		}
		steps = append(steps, step)
	}
	return steps
}
