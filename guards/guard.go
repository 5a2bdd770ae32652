package guards

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
)

// Guard allows or denies one CONNECT or event. A denial is a
// *gatehouse.Error; any other error is answered as "internal".
type Guard interface {
	Check(ctx context.Context, in *Input) error
}

// OnArrival is implemented by guards whose decision does not depend on what
// a socket's earlier events may change (its rooms, claims or runtime
// values): the size or shape of the payload, a rate counted per socket, user
// or address. When such guards lead an event's chain and cannot block, the
// gateway runs them as soon as the event arrives, so that an event they
// refuse never waits behind a slow handler holding its payload. A guard
// without the method runs in the event's turn, after the socket's earlier
// events.
type OnArrival interface {
	// CheckOnArrival reports whether the guard may decide when the event
	// arrives.
	CheckOnArrival() bool
}

// GuardFunc adapts a function to Guard.
type GuardFunc func(ctx context.Context, in *Input) error

// Check calls f.
func (f GuardFunc) Check(ctx context.Context, in *Input) error { return f(ctx, in) }

// Input is what a guard sees.
type Input struct {
	// Socket is the socket connecting or sending the event.
	Socket gatehouse.Socket
	// Namespace is the namespace name.
	Namespace string
	// Event is the event name, or "" at CONNECT.
	Event string
	// Payload is the first argument of the event (the CONNECT auth payload
	// at CONNECT), decoded on demand and shared with the handler.
	Payload *gatehouse.Payload
	// Args are all arguments of the event.
	Args gatehouse.Args
	// Auth is the CONNECT auth payload at CONNECT (nil for events), as
	// expressions see it in handshake.auth: without the token when the
	// namespace verifies tokens.
	Auth *gatehouse.Payload
}

// Factory builds a guard from its YAML options. It decodes them with
// opts.Decode into its own struct and returns errors positioned with
// opts.Errorf or config.Errorf, so that `gatehouse validate` reports them.
type Factory func(opts config.Options) (Guard, error)

// Registry maps guard type names to factories. The package-level Register and
// Lookup use the default one; tests may build their own with NewRegistry.
type Registry = registry.Registry[Factory]

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return registry.New[Factory]("guard") }

var defaultRegistry = NewRegistry()

// Default is the registry that Register fills and the gateway reads.
func Default() *Registry { return defaultRegistry }

// Register adds a guard type to the default registry; call it from init().
func Register(name string, f Factory) { defaultRegistry.Register(name, f) }

// Spec declares what a guard type is and which options it takes: the
// schema of gateway.yaml (`gatehouse schema`) and the reference tables of
// docs/config.md are generated from it.
type Spec = registry.Spec

// Refusal is one way a guard may refuse a call, declared in its Spec: a C2
// code and when it happens. `gatehouse explain` lists them per step.
type Refusal = registry.Refusal

// Define registers a guard type whose options are the struct O, declared
// once: its fields' yaml tags name the options, their doc tags say what each
// does and their default tags what an absent one means. The gateway decodes
// the YAML into O with positioned errors (unknown keys, wrong types) and
// calls build with it; build returns further errors positioned with
// opts.Errorf or opts.FieldError. Call it from init().
func Define[O any](name string, spec Spec, build func(opts config.Options, o O) (Guard, error)) {
	DefineIn(defaultRegistry, name, spec, build)
}

// DefineIn is Define on a registry of one's own, as tests build.
func DefineIn[O any](r *Registry, name string, spec Spec, build func(opts config.Options, o O) (Guard, error)) {
	spec, factory := registry.Typed(spec, build)
	r.RegisterSpec(name, spec, factory)
}

// Lookup finds a guard type in the default registry.
func Lookup(name string) (Factory, bool) { return defaultRegistry.Lookup(name) }
