package asyncapi

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/shape"
)

// object is a JSON object of the document.
type object = map[string]any

// guardSchema is one schema guard's schema, a component of the document.
type guardSchema struct {
	key  string // under components/schemas
	root any    // as read, with key order
}

// ref is the component path of the guard's schema.
func (s *guardSchema) ref() string { return "#/components/schemas/" + s.key }

// payload is an event's payload: the schemas of its schema guards, all of
// which it must satisfy.
type payload []*guardSchema

// schema is the JSON Schema of the payload.
func (p payload) schema() any {
	if len(p) == 1 {
		return object{"$ref": p[0].ref()}
	}
	all := make([]any, 0, len(p))
	for _, s := range p {
		all = append(all, object{"$ref": s.ref()})
	}
	return object{"allOf": all}
}

// field is the schema of the payload's field name, or nil when no schema
// names it.
func (p payload) field(name string) any {
	for _, s := range p {
		if sub := shape.PropertySchema(s.root, s.root, name); sub != nil {
			return rebase(sub, s.ref())
		}
	}
	return nil
}

// rebase is a part of a guard's schema as it reads inside the document:
// its local references ("#/$defs/x") point into the guard's component, and
// $schema and $id, which would start another document, are left out.
func rebase(v any, base string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(object, len(t))
		for k, e := range t {
			switch k {
			case shape.OrderKey, "$schema", "$id":
				continue
			case "$ref":
				if ref, ok := e.(string); ok && strings.HasPrefix(ref, "#") {
					out[k] = base + strings.TrimPrefix(ref, "#")
					continue
				}
			}
			out[k] = rebase(e, base)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = rebase(e, base)
		}
		return out
	}
	return v
}

// jsonSchema is the JSON Schema of t, a value of an event whose payload is p
// (nil when it has no schema).
func jsonSchema(t *shape.Type, p payload) any {
	switch t.Kind {
	case shape.String, shape.Number, shape.Boolean, shape.Null:
		return object{"type": primitive(t.Kind)}
	case shape.Literal:
		return object{"const": t.Value}
	case shape.Array:
		return object{"type": "array", "items": jsonSchema(t.Elem, p)}
	case shape.Map:
		return object{"type": "object", "additionalProperties": jsonSchema(t.Elem, p)}
	case shape.Object:
		return objectSchema(t, p)
	case shape.Union:
		return anyOf(t.Alts, p)
	case shape.Claims:
		return object{"$ref": "#/components/schemas/" + claimsKey}
	case shape.Payload:
		if p != nil {
			return p.schema()
		}
	case shape.PayloadField:
		if p != nil {
			if s := p.field(t.Field); s != nil {
				return s
			}
		}
	}
	return object{}
}

func primitive(k shape.Kind) string {
	switch k {
	case shape.String:
		return "string"
	case shape.Number:
		return "number"
	case shape.Boolean:
		return "boolean"
	}
	return "null"
}

// objectSchema is an object of exactly the members named: a CEL map
// literal has no other keys.
func objectSchema(t *shape.Type, p payload) any {
	props := object{}
	required := []any{}
	for _, m := range t.Members {
		props[m.Name] = jsonSchema(m.Type, p)
		if !m.Optional {
			required = append(required, m.Name)
		}
	}
	s := object{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// anyOf is the union of alts; one that accepts anything makes the union
// accept anything.
func anyOf(alts []*shape.Type, p payload) any {
	out := make([]any, 0, len(alts))
	for _, alt := range alts {
		s := jsonSchema(alt, p)
		if m, ok := s.(object); ok && len(m) == 0 {
			return object{}
		}
		out = appendUnique(out, s)
	}
	return oneOrAnyOf(out)
}
