package config

import (
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
)

// Options are the YAML options of one guard or handler, kept as a node so
// that the factory registered for its type can decode them into its own
// struct with positioned errors.
type Options struct {
	node      *yaml.Node
	pos       Pos
	name      string
	resources map[any]any
	host      gatehouse.Host
}

// NewOptions wraps a node found at pos. A nil node stands for "no options".
func NewOptions(node *yaml.Node, pos Pos) Options { return Options{node: node, pos: pos} }

// WithNode returns a copy of o whose options are n instead, keeping its
// position, name, host and resources: for a factory that rewrites the
// written form (a bare scalar standing for a mapping) before decoding.
func (o Options) WithNode(n *yaml.Node) Options {
	o.node = n
	return o
}

// WithName returns a copy of o that carries the declared name of its entry.
func (o Options) WithName(name string) Options {
	o.name = name
	return o
}

// Name is the declared name of the entry these options belong to (the key
// under "guards:"), or "" for entries that have none, such as handlers.
func (o Options) Name() string { return o.name }

// WithResource returns a copy of o that carries value under key: something
// the host shares with factories beyond the YAML, such as a connection that
// several guards use. Keys follow the rules of context keys: an unexported
// type of the package that defines the resource.
func (o Options) WithResource(key, value any) Options {
	resources := make(map[any]any, len(o.resources)+1)
	for k, v := range o.resources {
		resources[k] = v
	}
	resources[key] = value
	o.resources = resources
	return o
}

// WithHost returns a copy of o that carries the host of the instance the
// factory builds.
func (o Options) WithHost(h gatehouse.Host) Options {
	o.host = h
	return o
}

// Host is what the gateway gives the instance built from these options
// (see gatehouse.Host): a host with a discarding logger, a registry of its
// own and no adapter when none was set, as in a test.
func (o Options) Host() gatehouse.Host {
	if o.host == nil {
		return gatehouse.NewHost(gatehouse.HostOptions{})
	}
	return o.host
}

// Resource returns the value stored under key by WithResource, or nil.
func (o Options) Resource(key any) any { return o.resources[key] }

// Pos is where the options are written.
func (o Options) Pos() Pos { return o.pos }

// Node is the raw YAML node, or nil when no options were written.
func (o Options) Node() *yaml.Node { return o.node }

// Dir is the directory of the config file, against which relative file
// names in options resolve.
func (o Options) Dir() string { return filepath.Dir(o.pos.File) }

// PosOf returns the position of a node inside these options.
func (o Options) PosOf(n *yaml.Node) Pos {
	return Pos{File: o.pos.File, Line: n.Line, Column: n.Column}
}

// Errorf returns an error positioned at the options.
func (o Options) Errorf(format string, args ...any) error { return Errorf(o.pos, format, args...) }

// FieldError returns an error positioned at the value of the option field
// (its yaml name), or at the options when the field is not written.
func (o Options) FieldError(field, format string, args ...any) error {
	pos := o.pos
	if n := o.node; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == field {
				pos = o.PosOf(n.Content[i+1])
				break
			}
		}
	}
	return Errorf(pos, format, args...)
}

// Decode decodes the options into v (a pointer to a struct with yaml tags),
// with the same rules as the rest of the file: unknown keys are errors with
// a hint, Duration and Size fields parse, and every error is positioned.
// The returned error is an ErrorList.
func (o Options) Decode(v any) error {
	return decodeNode(o.node, o.pos.File, v)
}
