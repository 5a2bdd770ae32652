// Package registry is the name-to-factory map behind guards.Register and
// handlers.Register.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps type names to factories of one kind.
type Registry[F any] struct {
	kind      string
	mu        sync.RWMutex
	factories map[string]F
}

// New returns an empty registry; kind ("guard", "handler") names it in panics.
func New[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, factories: map[string]F{}}
}

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
