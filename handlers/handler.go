package handlers

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
)

// Handler handles one event (or a connect or disconnect). It returns the
// reply sent as the ack, when the client asked for one, or an error: a
// *gatehouse.Error follows contract C2, any other error is answered as
// "internal". A nil reply with a nil error acks with no argument. A panic is
// recovered by the runtime and answered as "internal".
type Handler interface {
	Handle(ctx context.Context, call *Call) (reply any, err error)
}

// Blocking is gatehouse.Blocking, kept here for plugins written against
// this package: an instance that says whether a call may wait.
type Blocking = gatehouse.Blocking

// MayBlock reports whether h may wait on something outside the process
// (see gatehouse.MayBlock).
func MayBlock(h any) bool { return gatehouse.MayBlock(h) }

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, call *Call) (any, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, call *Call) (any, error) { return f(ctx, call) }

// Call is one dispatch of an event to a handler.
type Call struct {
	// Socket is the caller: its identity, rooms and the ways to reply.
	Socket gatehouse.Socket
	// Event is the event name; "connect" or "disconnect" for the
	// on_connect and on_disconnect lists.
	Event string
	// Payload is the first argument, decoded on demand.
	Payload *gatehouse.Payload
	// Args are all arguments, binary attachments included.
	Args gatehouse.Args
	// Auth is the CONNECT auth payload, for on_connect handlers (nil for
	// events): what the client passed as `auth`, without the token when
	// the namespace verifies tokens (the verified claims are on the
	// socket). It is not kept after on_connect: the gateway does not hold
	// a payload of the client's choosing for the life of a connection.
	Auth *gatehouse.Payload
	// Reply is what an earlier handler of the same event returned, so that
	// a list of handlers can build on it; nil for the first. Maps and
	// slices of JSON values (map[string]any, []any) are a copy the handler
	// may change freely: the built-in handlers return values that share
	// the socket's claims or the payload, and the runtime copies them
	// before a later handler receives them. A reply of several arguments,
	// or one holding binary values below its top level, is a
	// gatehouse.Args, which the ack sends as its arguments.
	Reply any
}

// Publisher is gatehouse.Publisher: what Host.Publisher returns.
type Publisher = gatehouse.Publisher

// Factory builds a handler from its YAML options; see guards.Factory.
type Factory func(opts config.Options) (Handler, error)

// Registry maps handler type names to factories. The package-level Register and
// Lookup use the default one; tests may build their own with NewRegistry.
type Registry = registry.Registry[Factory]

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return registry.New[Factory]("handler") }

var defaultRegistry = NewRegistry()

// Default is the registry that Register fills and the gateway reads.
func Default() *Registry { return defaultRegistry }

// Register adds a handler type to the default registry; call it from init().
func Register(name string, f Factory) { defaultRegistry.Register(name, f) }

// Spec declares what a handler type is and which options it takes: the
// schema of gateway.yaml (`gatehouse schema`) and the reference tables of
// docs/config.md are generated from it.
type Spec = registry.Spec

// Refusal is one way a handler may refuse a call, declared in its Spec: a C2
// code and when it happens. `gatehouse explain` lists them per step.
type Refusal = registry.Refusal

// Define registers a handler type whose options are the struct O, declared
// once: its fields' yaml tags name the options, their doc tags say what each
// does and their default tags what an absent one means. The gateway decodes
// the YAML into O with positioned errors (unknown keys, wrong types) and
// calls build with it; build returns further errors positioned with
// opts.Errorf or opts.FieldError. Call it from init().
func Define[O any](name string, spec Spec, build func(opts config.Options, o O) (Handler, error)) {
	DefineIn(defaultRegistry, name, spec, build)
}

// DefineIn is Define on a registry of one's own, as tests build.
func DefineIn[O any](r *Registry, name string, spec Spec, build func(opts config.Options, o O) (Handler, error)) {
	spec, factory := registry.Typed(spec, build)
	r.RegisterSpec(name, spec, factory)
}

// Lookup finds a handler type in the default registry.
func Lookup(name string) (Factory, bool) { return defaultRegistry.Lookup(name) }
