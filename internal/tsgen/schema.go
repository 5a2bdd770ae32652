package tsgen

import (
	"encoding/json"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/shape"
)

// schemaDoc is one schema guard's JSON Schema, with the name of the
// TypeScript type it becomes.
type schemaDoc struct {
	name string
	root any
	// defs maps a "#/$defs/x" pointer to its type name, once declared.
	defs map[string]string
}

// schemaType is the TypeScript type of schema s, a part of doc; named types
// for $defs are declared on g as they are met.
func (g *generator) schemaType(doc *schemaDoc, s any, depth int) string {
	switch v := s.(type) {
	case bool:
		if v {
			return "unknown"
		}
		return "never"
	case map[string]any:
		return g.objectSchemaType(doc, v, depth)
	}
	return "unknown"
}

func (g *generator) objectSchemaType(doc *schemaDoc, m map[string]any, depth int) string {
	if ref, ok := m["$ref"].(string); ok {
		return g.refType(doc, ref, depth)
	}
	if c, ok := m["const"]; ok {
		return literal(c)
	}
	if e, ok := m["enum"].([]any); ok {
		parts := make([]string, 0, len(e))
		for _, v := range e {
			parts = append(parts, literal(v))
		}
		return union(parts...)
	}
	var parts []string
	for _, key := range []string{"anyOf", "oneOf"} {
		if list, ok := m[key].([]any); ok {
			alts := make([]string, 0, len(list))
			for _, alt := range list {
				alts = append(alts, g.schemaType(doc, alt, depth))
			}
			parts = append(parts, union(alts...))
		}
	}
	if list, ok := m["allOf"].([]any); ok {
		for _, sub := range list {
			parts = append(parts, g.schemaType(doc, sub, depth))
		}
	}
	if base := g.typedSchema(doc, m, depth); base != "" {
		parts = append([]string{base}, parts...)
	}
	switch len(parts) {
	case 0:
		return "unknown"
	case 1:
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = paren(p)
	}
	return strings.Join(parts, " & ")
}

// typedSchema is the type that the "type" keyword (or, without it, the
// object or array keywords) gives, or "" when s has none.
func (g *generator) typedSchema(doc *schemaDoc, m map[string]any, depth int) string {
	var kinds []string
	switch t := m["type"].(type) {
	case string:
		kinds = []string{t}
	case []any:
		for _, k := range t {
			if s, ok := k.(string); ok {
				kinds = append(kinds, s)
			}
		}
	default:
		if _, ok := m["properties"]; ok {
			kinds = []string{"object"}
		} else if _, ok := m["items"]; ok {
			kinds = []string{"array"}
		}
	}
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		switch k {
		case "string", "boolean", "null":
			parts = append(parts, k)
		case "number", "integer":
			parts = append(parts, "number")
		case "array":
			parts = append(parts, g.arrayType(doc, m, depth))
		case "object":
			parts = append(parts, g.objectType(doc, m, depth))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return union(parts...)
}

func (g *generator) arrayType(doc *schemaDoc, m map[string]any, depth int) string {
	items, hasItems := m["items"]
	prefix, _ := m["prefixItems"].([]any)
	if len(prefix) == 0 {
		if !hasItems {
			return "unknown[]"
		}
		return paren(g.schemaType(doc, items, depth)) + "[]"
	}
	elems := make([]string, 0, len(prefix)+1)
	for _, p := range prefix {
		elems = append(elems, g.schemaType(doc, p, depth))
	}
	switch {
	case !hasItems:
		elems = append(elems, "...unknown[]")
	case items != false:
		elems = append(elems, "..."+paren(g.schemaType(doc, items, depth))+"[]")
	}
	return "[" + strings.Join(elems, ", ") + "]"
}

func (g *generator) objectType(doc *schemaDoc, m map[string]any, depth int) string {
	props, _ := m["properties"].(map[string]any)
	required := map[string]bool{}
	if list, ok := m["required"].([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	names := shape.KeysOf(props)
	members := make([]string, 0, len(names)+1)
	valueTypes := make([]string, 0, len(names)+1)
	for _, name := range names {
		t := g.schemaType(doc, props[name], depth)
		valueTypes = append(valueTypes, t)
		optional := "?"
		if required[name] {
			optional = ""
		}
		members = append(members, propertyName(name)+optional+": "+t)
	}
	// Properties the schema does not name are allowed unless
	// additionalProperties says otherwise, as JSON Schema has it; an index
	// signature must admit the named properties' types too.
	switch extra := m["additionalProperties"]; {
	case extra == false:
	case extra == nil || extra == true:
		members = append(members, "[key: string]: unknown")
	default:
		valueTypes = append([]string{g.schemaType(doc, extra, depth)}, valueTypes...)
		members = append(members, "[key: string]: "+union(valueTypes...))
	}
	return objectLiteral(members)
}

// refType follows a $ref inside the same schema: a $defs (or definitions)
// entry becomes a named type, any other pointer is inlined. A reference to
// another document is unknown: its file is not read here.
func (g *generator) refType(doc *schemaDoc, ref string, depth int) string {
	if !strings.HasPrefix(ref, "#") {
		return "unknown"
	}
	if ref == "#" {
		return doc.name
	}
	tokens := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	target, ok := shape.Pointer(doc.root, tokens)
	if !ok {
		return "unknown"
	}
	if len(tokens) == 2 && (tokens[0] == "$defs" || tokens[0] == "definitions") {
		if name, ok := doc.defs[ref]; ok {
			return name
		}
		name := g.uniqueName(doc.name + pascal(tokens[1]))
		doc.defs[ref] = name
		g.declare(name, g.schemaType(doc, target, 0))
		return name
	}
	if depth >= shape.MaxInline {
		return "unknown"
	}
	return g.schemaType(doc, target, depth+1)
}

// literal is the TypeScript literal type of a JSON value.
func literal(v any) string {
	raw, err := json.Marshal(shape.Plain(v))
	if err != nil {
		return "unknown"
	}
	return string(raw)
}
