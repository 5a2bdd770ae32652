// Package registry is the name-to-factory map behind guards.Register and
// handlers.Register.
package registry

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

// Spec declares what a registered type is and which options it takes, for
// the schema of gateway.yaml and its reference documentation.
type Spec struct {
	// Doc is one sentence saying what the type does.
	Doc string
	// Options is the struct type its options decode into; nil when the
	// factory reads free-form options itself.
	Options reflect.Type
	// Shorthand is the yaml name of the option that options written as a
	// bare scalar stand for ("" when there is none).
	Shorthand string
	// Refusals are the C2 codes the type may refuse with, and when, for
	// `gatehouse explain` and the docs. A type that declares none is shown
	// as able to return any code.
	Refusals []Refusal
}

// Refusal is one way a guard or handler may refuse a call: a C2 code
// (Code), when it happens (When), and optionally the option whose written
// value is the code instead (CodeOption) or the boolean option without
// which it cannot happen (IfOption).
type Refusal = schema.Refusal

// Registry maps type names to factories of one kind.
type Registry[F any] struct {
	kind      string
	mu        sync.RWMutex
	factories map[string]F
	specs     map[string]Spec
}

// New returns an empty registry; kind ("guard", "handler") names it in panics.
func New[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, factories: map[string]F{}, specs: map[string]Spec{}}
}

// RegisterSpec is Register with the type's spec.
func (r *Registry[F]) RegisterSpec(name string, spec Spec, f F) {
	r.Register(name, f)
	r.mu.Lock()
	r.specs[name] = spec
	r.mu.Unlock()
}

// Spec returns the spec registered with name's factory (the zero Spec for
// a type registered without one).
func (r *Registry[F]) Spec(name string) Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.specs[name]
}

// Kind is the kind of types the registry holds ("guard", "handler").
func (r *Registry[F]) Kind() string { return r.kind }

// Register adds a factory. It panics on an empty or duplicate name, so that
// two plugins claiming one name fail at start-up.
func (r *Registry[F]) Register(name string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic(fmt.Sprintf("%s registry: Register needs a name", r.kind))
	}
	if _, dup := r.factories[name]; dup {
		panic(fmt.Sprintf("%s registry: type %q registered twice", r.kind, name))
	}
	r.factories[name] = f
}

// Lookup returns the factory registered under name.
func (r *Registry[F]) Lookup(name string) (F, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}

// Names lists the registered type names, sorted.
func (r *Registry[F]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Typed returns a factory that decodes a type's options into a fresh O (a
// struct with yaml tags) holding the defaults its default tags declare,
// with positioned errors, and hands it to build;
// options written as a bare scalar stand for spec.Shorthand first. It also
// returns spec with its Options set to O.
func Typed[O, T any](spec Spec, build func(opts gatewayconfig.Options, o O) (T, error)) (Spec, func(gatewayconfig.Options) (T, error)) {
	spec.Options = reflect.TypeFor[O]()
	setDefaults, err := withDefaults[O]()
	if err != nil {
		panic(err) // a mistake in the type's struct tags, found at registration
	}
	return spec, func(opts gatewayconfig.Options) (T, error) {
		if spec.Shorthand != "" {
			opts = Shorthand(opts, spec.Shorthand)
		}
		var o O
		if err := setDefaults(&o); err != nil {
			var zero T
			return zero, err
		}
		if opts.IsZero() {
			return build(opts, o) // nothing written: the defaults alone
		}
		if err := opts.Decode(&o); err != nil {
			var zero T
			return zero, err
		}
		return build(opts, o)
	}
}

// Shorthand turns options written as a bare scalar (`max_size: 4KB`) into
// the mapping they abbreviate (`{limit: 4KB}`), so that both forms decode
// with the same parsing and positions.
func Shorthand(opts gatewayconfig.Options, key string) gatewayconfig.Options {
	n := gatewayconfig.OptionsNode(opts)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return opts
	}
	keyNode := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: n.Line, Column: n.Column}
	mapping := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{keyNode, n}, Line: n.Line, Column: n.Column}
	return gatewayconfig.WithOptionsNode(opts, mapping)
}

// PluginSpecs lists every registered type with its spec, sorted by name,
// for the schema of gateway.yaml.
func (r *Registry[F]) PluginSpecs() []schema.PluginSpec {
	names := r.Names()
	specs := make([]schema.PluginSpec, 0, len(names))
	for _, name := range names {
		s := r.Spec(name)
		specs = append(specs, schema.PluginSpec{Kind: r.kind, Name: name, Doc: s.Doc, Options: s.Options, Shorthand: s.Shorthand, Refusals: s.Refusals})
	}
	return specs
}
