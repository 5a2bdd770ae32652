package shape

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// MaxInline bounds how deep $ref pointers are followed, so that a schema
// referring to itself through properties still ends.
const MaxInline = 16

// OrderKey holds, in every mapping read from a schema, its keys in the
// order written, so that what is written from a schema lists properties as
// the schema does. No schema keyword or property name written in YAML or
// JSON holds a NUL.
const OrderKey = "\x00order"

// LoadSchema reads a schema guard's options as JSON values, each mapping
// with its key order under OrderKey: an inline schema, or the file named
// by {file: path} relative to the config file.
func LoadSchema(opts gatewayconfig.Options) (any, error) {
	n := gatewayconfig.OptionsNode(opts)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: schema: expected a mapping", opts.Pos())
	}
	if len(n.Content) != 2 || n.Content[0].Value != "file" {
		return nodeValue(n)
	}
	path := n.Content[1].Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(opts.Dir(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: schema: %w", opts.Pos(), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil { // JSON is YAML too
		return nil, fmt.Errorf("%s: schema: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: schema: the file is empty", path)
	}
	return nodeValue(doc.Content[0])
}

// GuardSchema is the schema of the schema guard called name in cfg, or nil
// when name is not a schema guard.
func GuardSchema(cfg *gatewayconfig.Config, name string) (any, error) {
	for _, decl := range cfg.Guards {
		if decl.Name == name && decl.Type == "schema" {
			return LoadSchema(decl.Options)
		}
	}
	return nil, nil
}

// nodeValue decodes n as JSON values, each mapping with its key order.
func nodeValue(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2+1)
		keys := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			key := n.Content[i].Value
			keys = append(keys, key)
			out[key] = v
		}
		out[OrderKey] = keys
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// KeysOf lists m's keys in the order written, or sorted when m was not
// read from a schema.
func KeysOf(m map[string]any) []string {
	if keys, ok := m[OrderKey].([]string); ok {
		return keys
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Plain is v without the key order of its mappings: plain JSON values.
func Plain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if k != OrderKey {
				out[k] = Plain(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Plain(e)
		}
		return out
	}
	return v
}

// Pointer resolves the JSON pointer tokens in v.
func Pointer(v any, tokens []string) (any, bool) {
	for _, raw := range tokens {
		token := strings.NewReplacer("~1", "/", "~0", "~").Replace(raw)
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[token]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			var i int
			if _, err := fmt.Sscan(token, &i); err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// PropertySchema is the schema of field name of the objects s accepts, or
// nil when s does not say; s is a part of the schema root, and $ref and
// allOf are followed.
func PropertySchema(root, s any, name string) any {
	return propertySchema(root, s, name, 0)
}

func propertySchema(root, s any, name string, depth int) any {
	m, ok := s.(map[string]any)
	if !ok || depth > MaxInline {
		return nil
	}
	if ref, ok := m["$ref"].(string); ok && strings.HasPrefix(ref, "#") {
		target, ok := Pointer(root, strings.Split(strings.TrimPrefix(strings.TrimPrefix(ref, "#"), "/"), "/"))
		if ref == "#" {
			target, ok = root, true
		}
		if !ok {
			return nil
		}
		return propertySchema(root, target, name, depth+1)
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if p, ok := props[name]; ok {
			return p
		}
	}
	if list, ok := m["allOf"].([]any); ok {
		for _, sub := range list {
			if p := propertySchema(root, sub, name, depth+1); p != nil {
				return p
			}
		}
	}
	return nil
}
