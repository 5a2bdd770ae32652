package explain

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/schema"
)

// FillDefaults adds to each step's options the defaults its type declares
// (the `default` tags of its options struct, see schema.PluginSpec) for
// the keys that are not written, and lists them in the step's Defaults.
// Options written in a short form (a bare string) are left as they are.
func (r *Report) FillDefaults(guardSpecs, handlerSpecs []schema.PluginSpec) {
	types := map[string]reflect.Type{}
	for _, s := range guardSpecs {
		types["guard/"+s.Name] = s.Options
	}
	for _, s := range handlerSpecs {
		types["handler/"+s.Name] = s.Options
	}
	fill := func(steps []Step) {
		for i := range steps {
			s := &steps[i]
			t := types[s.Kind+"/"+s.Type]
			if t == nil {
				continue
			}
			if s.Options == nil {
				s.Options = object{}
			}
			if obj, ok := s.Options.(object); ok {
				s.Options, s.Defaults = withDefaults(obj, t, "")
			}
		}
	}
	for n := range r.Namespaces {
		ns := &r.Namespaces[n]
		fill(ns.ConnectGuards)
		fill(ns.OnConnect)
		fill(ns.OnDisconnect)
		for e := range ns.Events {
			fill(ns.Events[e].Steps)
		}
	}
}

// withDefaults returns obj with the defaults of struct type t added for
// the fields not written, descending into written nested structs, and the
// dotted keys it added (prefixed by prefix).
func withDefaults(obj object, t reflect.Type, prefix string) (object, []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return obj, nil
	}
	var added []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		idx := indexOf(obj, name)
		if idx >= 0 {
			if nested, ok := obj[idx].Value.(object); ok {
				var more []string
				obj[idx].Value, more = withDefaults(nested, f.Type, prefix+name+".")
				added = append(added, more...)
			}
			continue
		}
		literal, ok := f.Tag.Lookup("default")
		if !ok {
			continue
		}
		var v any
		if err := yaml.Unmarshal([]byte(literal), &v); err != nil {
			v = literal
		}
		obj = append(obj, member{name, v})
		added = append(added, prefix+name)
	}
	return obj, added
}

func indexOf(obj object, key string) int {
	for i, m := range obj {
		if m.Key == key {
			return i
		}
	}
	return -1
}
