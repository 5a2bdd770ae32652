package registry

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// defaultsDocument writes the default tags of struct type t, and of its
// nested structs (not behind pointers: an absent optional block stays
// absent), as the YAML mapping they abbreviate; "" when there are none.
func defaultsDocument(t reflect.Type, indent string) string {
	var b strings.Builder
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if literal, ok := f.Tag.Lookup("default"); ok {
			fmt.Fprintf(&b, "%s%s: %s\n", indent, name, literal)
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 {
			if nested := defaultsDocument(f.Type, indent+"  "); nested != "" {
				fmt.Fprintf(&b, "%s%s:\n%s", indent, name, nested)
			}
		}
	}
	return b.String()
}

// withDefaults returns a decoder of a type's options that first sets the
// values its struct declares in default tags, so that an option not written
// means what the spec, the schema and the docs say it means.
func withDefaults[O any]() (func(*O) error, error) {
	t := reflect.TypeFor[O]()
	if t.Kind() != reflect.Struct {
		return func(*O) error { return nil }, nil
	}
	doc := defaultsDocument(t, "")
	if doc == "" {
		return func(*O) error { return nil }, nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		return nil, fmt.Errorf("registry: default tags of %s are not YAML: %w", t, err)
	}
	defaults := gatewayconfig.NewOptions(&root, gatewayconfig.Pos{File: "default tags of " + t.String(), Line: 1, Column: 1})
	var probe O
	if err := defaults.Decode(&probe); err != nil {
		return nil, fmt.Errorf("registry: default tags of %s: %w", t, err)
	}
	return func(o *O) error { return defaults.Decode(o) }, nil
}
