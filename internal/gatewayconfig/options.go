package gatewayconfig

import (
	"path/filepath"
	"strconv"

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

// OptionsNode is the raw YAML node of o, or nil when no options were
// written. It is for the gateway's own tools (explain, types, the registry);
// plugins read options through Decode, Keys and PosAt.
func OptionsNode(o Options) *yaml.Node { return o.node }

// WithOptionsNode returns a copy of o whose options are n instead, keeping
// its position, name, host and resources: for a registry that rewrites the
// written form (a bare scalar standing for a mapping) before decoding.
func WithOptionsNode(o Options, n *yaml.Node) Options {
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

// IsZero reports whether no options were written (or they are null).
func (o Options) IsZero() bool { return o.node == nil || isNull(o.node) }

// Keys are the keys of the options in the order they are written, when they
// are a mapping, or nil.
func (o Options) Keys() []string {
	n := followAliases(o.node)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// At returns the options found at path inside o: mapping keys, and list
// indexes written in decimal ("0" is the first item). It returns zero
// options (IsZero) positioned at the deepest value found when the path
// leads nowhere.
func (o Options) At(path ...string) Options {
	n := o.node
	for _, step := range path {
		next := childAt(n, step)
		if next == nil {
			if n != nil {
				o.pos = nodePos(o.pos.File, n)
			}
			o.node = nil
			return o
		}
		n = next
	}
	if n != nil {
		o.pos = nodePos(o.pos.File, n)
	}
	o.node = n
	return o
}

// PosAt is the position of the value at path inside o (see At), or of the
// deepest value on the way when the path leads nowhere: where an error about
// that value should point.
func (o Options) PosAt(path ...string) Pos { return o.At(path...).pos }

// Dir is the directory of the config file, against which relative file
// names in options resolve.
func (o Options) Dir() string { return filepath.Dir(o.pos.File) }

// Errorf returns an error positioned at the options.
func (o Options) Errorf(format string, args ...any) error { return Errorf(o.pos, format, args...) }

// FieldError returns an error positioned at the value of the option field
// (its yaml name), or at the options when the field is not written.
func (o Options) FieldError(field, format string, args ...any) error {
	return Errorf(o.PosAt(field), format, args...)
}

// Decode decodes the options into v (a pointer to a struct with yaml tags),
// with the same rules as the rest of the file: unknown keys are errors with
// a hint, Duration and Size fields parse, and every error is positioned.
// The returned error is an ErrorList.
func (o Options) Decode(v any) error {
	return decodeNode(o.node, o.pos.File, v)
}

// childAt is the value under a mapping key, or the list item at a decimal
// index, of n (aliases followed), or nil.
func childAt(n *yaml.Node, step string) *yaml.Node {
	n = followAliases(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == step {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(step); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// followAliases resolves documents and aliases to the node that holds the
// value, or nil. The loader has already refused cyclic aliases; the bound
// only keeps a hand-built node from looping.
func followAliases(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && hops < 64; hops++ {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}
