package explain

import "github.com/gatehouse-dev/gatehouse/internal/registry"

// refusalsOf lists what a step may refuse with, from the refusals its type
// declares in its spec, resolved against the options written. A type that
// declares none (a plugin's, often) may return any code; an error without
// one reaches the client as internal.
func refusalsOf(spec registry.Spec, options any) []Refusal {
	if len(spec.Refusals) == 0 {
		return []Refusal{{"any code", "a plugin returns its own coded errors; an uncoded one reaches the client as internal"}}
	}
	out := make([]Refusal, 0, len(spec.Refusals))
	for _, r := range spec.Refusals {
		if r.IfOption != "" {
			if v, ok := optionValue(options, r.IfOption); !ok || v != true {
				continue
			}
		}
		code := r.Code
		if r.CodeOption != "" {
			if c, ok := optionString(options, r.CodeOption); ok && c != "" {
				code = c
			}
		}
		out = append(out, Refusal{Code: code, When: r.When})
	}
	return out
}

// optionValue finds a top-level option by name.
func optionValue(options any, key string) (any, bool) {
	obj, ok := options.(object)
	if !ok {
		return nil, false
	}
	for _, m := range obj {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

func optionString(options any, key string) (string, bool) {
	v, ok := optionValue(options, key)
	s, isString := v.(string)
	return s, ok && isString
}
