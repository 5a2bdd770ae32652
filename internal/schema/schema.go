// Package schema generates the JSON Schema (draft 2020-12) of gateway.yaml
// from the config's Go types and the registered plugins' option types, so
// that the schema, the editors that read it and the reference tables of
// docs/config.md say what the loader accepts, from one source.
package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// PluginSpec describes one registered guard or handler type.
type PluginSpec struct {
	// Kind is "guard" or "handler".
	Kind string
	// Name is the type name written in gateway.yaml, such as "rate_limit".
	Name string
	// Doc is one sentence saying what the plugin does.
	Doc string
	// Options is the struct type its options decode into; nil when its
	// options are not declared, in which case any value is accepted.
	Options reflect.Type
	// Shorthand names the option (its yaml name) that options written as a
	// bare scalar stand for, as in "max_size: 4KB" for {limit: 4KB}; ""
	// when the plugin takes no such form.
	Shorthand string
	// Refusals are the C2 codes the plugin may refuse with, and when.
	Refusals []Refusal
}

// Refusal is one way a guard or handler may refuse a call: a C2 code and
// when it happens. A code may depend on the options written: CodeOption
// names an option whose value, when written, is the code instead; IfOption
// names a boolean option without which this refusal cannot happen.
type Refusal struct {
	Code       string
	When       string
	CodeOption string
	IfOption   string
}

// Draft is the JSON Schema dialect of the generated schema.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// interpolationPattern matches a scalar holding ${VAR} or ${VAR:-default}:
// the loader substitutes it before decoding, so such a string may stand
// where a number, a duration or a fixed word is expected.
const interpolationPattern = `\$\{[^}]+\}`

var (
	durationType = reflect.TypeFor[gatewayconfig.Duration]()
	sizeType     = reflect.TypeFor[gatewayconfig.Size]()
	nodeType     = reflect.TypeFor[yaml.Node]()

	scalarUnmarshalerType = reflect.TypeFor[gatewayconfig.ScalarUnmarshaler]()
)

// obj is one JSON object of the schema. encoding/json writes its keys
// sorted, so the output is the same on every run.
type obj = map[string]any

// Generate returns the JSON Schema of a whole gateway.yaml whose guards and
// handlers may be of the given types, indented for reading.
func Generate(guards, handlers []PluginSpec) ([]byte, error) {
	root, err := Document(guards, handlers)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schema: encode: %w", err)
	}
	return append(out, '\n'), nil
}

// Document returns the schema of Generate as a JSON object, before encoding.
func Document(guards, handlers []PluginSpec) (map[string]any, error) {
	guardEntry, err := typedEntrySchema("guard", guards)
	if err != nil {
		return nil, err
	}
	handlerEntry, err := typedEntrySchema("handler", handlers)
	if err != nil {
		return nil, err
	}
	root, err := structSchema(reflect.TypeFor[gatewayconfig.Config]())
	if err != nil {
		return nil, err
	}
	props := root["properties"].(obj)
	props["guards"] = obj{
		"description":          "Named guards, each of exactly one type with its options, referred to by name from namespaces and events.",
		"type":                 []string{"object", "null"},
		"propertyNames":        obj{"minLength": 1},
		"additionalProperties": obj{"$ref": "#/$defs/guard"},
	}
	props["namespaces"] = obj{
		"description":          "The namespaces clients may connect to, keyed by name (/chat).",
		"type":                 []string{"object", "null"},
		"propertyNames":        obj{"pattern": `^/\S*$`},
		"additionalProperties": obj{"$ref": "#/$defs/namespace"},
	}
	ns, err := namespaceSchema()
	if err != nil {
		return nil, err
	}
	root["$schema"] = Draft
	root["$id"] = "https://gatehouse.dev/schema/gateway.json"
	root["title"] = "gateway.yaml"
	root["description"] = "The configuration of a Gatehouse gateway."
	root["$defs"] = obj{
		"interpolated": obj{"type": "string", "pattern": interpolationPattern},
		"guard":        guardEntry,
		"handler":      handlerEntry,
		"handlers": obj{
			"type":  []string{"array", "null"},
			"items": obj{"$ref": "#/$defs/handler"},
		},
		"guardRefs": obj{
			"type":  []string{"array", "null"},
			"items": obj{"type": "string", "minLength": 1},
		},
		"namespace": ns,
		"event":     eventSchema(),
	}
	return root, nil
}

// typedEntrySchema is a guard or handler entry: a mapping with exactly one
// key, its type, whose value holds that type's options.
func typedEntrySchema(kind string, specs []PluginSpec) (obj, error) {
	props := obj{}
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		opts, err := optionsSchema(s)
		if err != nil {
			return nil, fmt.Errorf("schema: %s %q: %w", kind, s.Name, err)
		}
		props[s.Name] = opts
		names = append(names, s.Name)
	}
	return obj{
		"description":          fmt.Sprintf("A %s: exactly one key, its type (%s), whose value holds its options.", kind, strings.Join(names, ", ")),
		"type":                 "object",
		"minProperties":        1,
		"maxProperties":        1,
		"properties":           props,
		"additionalProperties": false,
	}, nil
}

// optionsSchema is the schema of one plugin's options. Options that are
// not declared accept any value; declared ones also accept null, which the
// loader reads as "no options".
func optionsSchema(s PluginSpec) (obj, error) {
	if s.Options == nil {
		return obj{"description": s.Doc}, nil
	}
	t := s.Options
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("options type %s is not a struct", t)
	}
	opts, err := structSchema(t)
	if err != nil {
		return nil, err
	}
	if s.Shorthand != "" {
		short, ok := opts["properties"].(obj)[s.Shorthand]
		if !ok {
			return nil, fmt.Errorf("shorthand %q is not an option of %s", s.Shorthand, t)
		}
		opts = obj{"anyOf": []any{opts, short}}
	}
	opts["description"] = s.Doc
	return opts, nil
}

func namespaceSchema() (obj, error) {
	reserved := gatewayconfig.ReservedEventNames()
	authorizer, err := structSchema(reflect.TypeFor[gatewayconfig.Authorizer]())
	if err != nil {
		return nil, fmt.Errorf("schema: namespace authorizer: %w", err)
	}
	recovery, err := structSchema(reflect.TypeFor[gatewayconfig.Recovery]())
	if err != nil {
		return nil, fmt.Errorf("schema: namespace recovery: %w", err)
	}
	history, err := structSchema(reflect.TypeFor[gatewayconfig.History]())
	if err != nil {
		return nil, fmt.Errorf("schema: namespace history: %w", err)
	}
	presence, err := structSchema(reflect.TypeFor[gatewayconfig.Presence]())
	if err != nil {
		return nil, fmt.Errorf("schema: namespace presence: %w", err)
	}
	return obj{
		"description": "A namespace: who may connect, the guards run at CONNECT, the handlers run on connect and disconnect, and its events.",
		"type":        []string{"object", "null"},
		"properties": obj{
			"auth": withInterpolation(obj{
				"description": "Whether a token is required, optional or not read at CONNECT; required by default when auth.jwt is configured, none otherwise.",
				"enum":        []any{"required", "optional", "none", nil},
			}),
			"guards":        withDoc(obj{"$ref": "#/$defs/guardRefs"}, "Guards run at CONNECT, in order, by name."),
			"authorizer":    withDoc(authorizer, "An HTTP backend asked at CONNECT whether a socket may connect and with what claims."),
			"recovery":      withDoc(recovery, "Connection state recovery: a socket whose connection was lost is kept, and the packets sent meanwhile replayed when its client comes back (socket.io-client's connectionStateRecovery)."),
			"presence":      withDoc(presence, "Who is in the namespace's rooms: the users, with the claims shown, for the presence handler, the server API and presence:join/presence:leave."),
			"history":       withDoc(history, "The last messages of the rooms it names, for the history handler and the server API."),
			"on_connect":    withDoc(obj{"$ref": "#/$defs/handlers"}, "Handlers run when a socket has connected to the namespace."),
			"on_disconnect": withDoc(obj{"$ref": "#/$defs/handlers"}, "Handlers run when a socket has left the namespace."),
			"events": obj{
				"description":          "The events clients may emit, keyed by event name.",
				"type":                 []string{"object", "null"},
				"propertyNames":        obj{"minLength": 1, "not": obj{"enum": toAny(reserved)}},
				"additionalProperties": obj{"$ref": "#/$defs/event"},
			},
			"max_connections": withDoc(withInterpolation(obj{"type": []string{"integer", "null"}, "minimum": 0}),
				"The most sockets the namespace takes at once, across the cluster; 0 means no limit."),
		},
		"additionalProperties": false,
	}, nil
}

func eventSchema() obj {
	return obj{
		"description": "An event: the guards it passes, in order, and one handler or a list of them.",
		"type":        "object",
		"properties": obj{
			"guards":   withDoc(obj{"$ref": "#/$defs/guardRefs"}, "Guards the event passes, in order, by name."),
			"handler":  withDoc(obj{"$ref": "#/$defs/handler"}, "The one handler of the event."),
			"handlers": withDoc(obj{"type": "array", "minItems": 1, "items": obj{"$ref": "#/$defs/handler"}}, "The handlers of the event, run in order."),
		},
		// Exactly one of handler and handlers; each branch names its
		// property so that strict validators see it declared.
		"oneOf": []any{
			obj{"properties": obj{"handler": true}, "required": []string{"handler"}},
			obj{"properties": obj{"handlers": true}, "required": []string{"handlers"}},
		},
		"additionalProperties": false,
	}
}

// structSchema walks the yaml-tagged fields of struct t, as the loader's
// decoder does, into an object schema that refuses unknown keys.
func structSchema(t reflect.Type) (obj, error) {
	props := obj{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		s, err := fieldSchema(f)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		props[name] = s
	}
	return obj{
		"type":                 []string{"object", "null"},
		"properties":           props,
		"additionalProperties": false,
	}, nil
}

// fieldSchema is the schema of one field, with its doc, default and enum
// tags applied.
func fieldSchema(f reflect.StructField) (obj, error) {
	s, err := typeSchema(f.Type, f.Tag.Get("enum"))
	if err != nil {
		return nil, err
	}
	if doc := f.Tag.Get("doc"); doc != "" {
		s["description"] = doc
	}
	if literal, ok := f.Tag.Lookup("default"); ok {
		var v any
		if err := yaml.Unmarshal([]byte(literal), &v); err != nil {
			return nil, fmt.Errorf("default %q is not YAML: %w", literal, err)
		}
		s["default"] = v
	}
	return s, nil
}

// typeSchema maps a Go type to what the loader accepts for it. Every value
// may be null (a key written with no value takes its default), and every
// scalar may be a ${VAR} reference.
func typeSchema(t reflect.Type, enum string) (obj, error) {
	switch {
	case t == durationType:
		return withInterpolation(obj{"anyOf": []any{
			obj{"type": "string", "pattern": `^\s*(0|([0-9]*\.?[0-9]+(ns|us|µs|μs|ms|s|m|h))+)\s*$`},
			obj{"const": 0},
			obj{"type": "null"},
		}}), nil
	case t == sizeType:
		return withInterpolation(obj{"anyOf": []any{
			obj{"type": "string", "pattern": `^\s*[0-9][0-9_]*\s*([kKmMgGtT]([iI]?[bB])?|[bB])?\s*$`},
			obj{"type": []string{"integer", "null"}, "minimum": 0},
		}}), nil
	case t == nodeType:
		return obj{}, nil
	case isExpr(t):
		// A CEL expression: any scalar is its source.
		return withInterpolation(obj{"type": []string{"string", "number", "boolean", "null"}}), nil
	case reflect.PointerTo(t).Implements(scalarUnmarshalerType):
		// A type that parses itself from a scalar: any scalar may be its text.
		return withInterpolation(obj{"type": []string{"string", "number", "boolean", "null"}}), nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), enum)
	case reflect.Struct:
		return structSchema(t)
	case reflect.Slice, reflect.Array:
		items, err := typeSchema(t.Elem(), enum)
		if err != nil {
			return nil, err
		}
		return obj{"type": []string{"array", "null"}, "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key type %s is not a string", t.Key())
		}
		values, err := typeSchema(t.Elem(), "")
		if err != nil {
			return nil, err
		}
		return obj{"type": []string{"object", "null"}, "additionalProperties": values}, nil
	case reflect.Interface:
		return obj{}, nil
	case reflect.String:
		if enum != "" {
			return withInterpolation(obj{"enum": append(toAny(strings.Split(enum, ",")), nil)}), nil
		}
		return obj{"type": []string{"string", "null"}}, nil
	case reflect.Bool:
		return withInterpolation(obj{"type": []string{"boolean", "null"}}), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return withInterpolation(obj{"type": []string{"integer", "null"}}), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return withInterpolation(obj{"type": []string{"integer", "null"}, "minimum": 0}), nil
	case reflect.Float32, reflect.Float64:
		return withInterpolation(obj{"type": []string{"number", "null"}}), nil
	}
	return nil, fmt.Errorf("no schema for Go type %s", t)
}

// withInterpolation lets a scalar schema also accept a ${VAR} string.
func withInterpolation(s obj) obj {
	return obj{"anyOf": []any{s, obj{"$ref": "#/$defs/interpolated"}}}
}

// withDoc returns s with a description.
func withDoc(s obj, doc string) obj {
	s["description"] = doc
	return s
}

func toAny(words []string) []any {
	out := make([]any, len(words))
	for i, w := range words {
		out[i] = w
	}
	return out
}
