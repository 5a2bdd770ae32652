package gatewayconfig

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ScalarUnmarshaler is implemented by option types written as one scalar
// that parse themselves, such as an expression: value is the scalar with
// environment variables already interpolated, pos is where it is written.
// Returning an *Error or an ErrorList keeps the positions; any other error
// is placed at the scalar. A null is passed as the string "null".
type ScalarUnmarshaler interface {
	UnmarshalScalar(value string, pos Pos) error
}

// nodeUnmarshaler is implemented by the package's own types that decode
// themselves from a YAML node (a duration, a handler entry).
type nodeUnmarshaler interface {
	unmarshalNode(n *yaml.Node, file string) error
}

var (
	scalarUnmarshalerType = reflect.TypeFor[ScalarUnmarshaler]()
	nodeUnmarshalerType   = reflect.TypeFor[nodeUnmarshaler]()
	nodeType              = reflect.TypeFor[yaml.Node]()
)

// maxAliasExpansions bounds how many nodes may be reached through aliases in
// one decode, so that a "billion laughs" file fails instead of exhausting memory.
const maxAliasExpansions = 10000

// decoder is the strict node-to-value decoder. It collects errors instead of
// stopping at the first, and optionally records where each field was written.
type decoder struct {
	file string
	errs ErrorList
	// positions maps a field path ("server.listen", "auth.jwt.algorithms[1]")
	// to the position of its value; nil when nobody needs them.
	positions map[string]Pos
	// aliasesActive holds the anchors being expanded, to refuse cycles.
	aliasesActive map[*yaml.Node]bool
	aliasBudget   int
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, aliasesActive: map[*yaml.Node]bool{}, aliasBudget: maxAliasExpansions}
}

// decodeNode decodes node into v, a non-nil pointer, and returns the errors
// as an ErrorList (nil when there are none).
func decodeNode(node *yaml.Node, file string, v any) error {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errNotPointer
	}
	if node == nil {
		return nil
	}
	d := newDecoder(file)
	d.decode(node, rv.Elem(), "")
	return d.errs.sorted().Err()
}

func unmarshalsItself(t reflect.Type) bool {
	return t.Implements(nodeUnmarshalerType) || t.Implements(scalarUnmarshalerType)
}

func nodePos(file string, n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Column: n.Column} }

func (d *decoder) pos(n *yaml.Node) Pos { return nodePos(d.file, n) }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, Errorf(d.pos(n), format, args...))
}

// follow resolves documents and aliases to the node that holds the value,
// marking the anchors it passes as being expanded until release is called.
// It returns nil, after reporting, for a cyclic or too expensive alias.
func (d *decoder) follow(n *yaml.Node) (target *yaml.Node, release func()) {
	var entered []*yaml.Node
	release = func() {
		for _, a := range entered {
			delete(d.aliasesActive, a)
		}
	}
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil, release
			}
			n = n.Content[0]
		case yaml.AliasNode:
			switch {
			case n.Alias == nil:
				d.errorf(n, "unknown alias *%s", n.Value)
				return nil, release
			case d.aliasesActive[n.Alias]:
				d.errorf(n, "alias *%s refers to itself", n.Value)
				return nil, release
			case d.aliasBudget <= 0:
				d.errorf(n, "too many alias expansions")
				return nil, release
			}
			d.aliasBudget--
			d.aliasesActive[n.Alias] = true
			entered = append(entered, n.Alias)
			n = n.Alias
		default:
			return n, release
		}
	}
	return nil, release
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return strconv.Quote(v)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty document"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode decodes n into v, which must be settable; path names the value
// for positions and messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n, release := d.follow(n)
	defer release()
	if n == nil {
		return
	}
	// Raw node fields keep whatever was written, null included; a null
	// pointer is nil; an unmarshaler decides for itself what null means.
	if isNull(n) && v.Type() != nodeType && (v.Kind() != reflect.Pointer || v.Type().Elem() != nodeType) &&
		(v.Kind() == reflect.Pointer || !v.CanAddr() || !unmarshalsItself(v.Addr().Type())) {
		v.SetZero()
		return
	}
	if d.positions != nil && path != "" && !isNull(n) {
		d.positions[path] = d.pos(n)
	}

	switch {
	case v.Type() == nodeType:
		v.Set(reflect.ValueOf(*n))
		return
	case v.Kind() == reflect.Pointer && v.Type().Elem() == nodeType:
		v.Set(reflect.ValueOf(n))
		return
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	case v.CanAddr() && v.Addr().Type().Implements(nodeUnmarshalerType):
		err := v.Addr().Interface().(nodeUnmarshaler).unmarshalNode(n, d.file)
		d.errs = d.errs.Append(d.pos(n), err)
		return
	case v.CanAddr() && v.Addr().Type().Implements(scalarUnmarshalerType):
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "expected a scalar, got %s", describe(n))
			return
		}
		value := n.Value
		if isNull(n) {
			value = "null"
		}
		err := v.Addr().Interface().(ScalarUnmarshaler).UnmarshalScalar(value, d.pos(n))
		d.errs = d.errs.Append(d.pos(n), err)
		return
	}

	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.errorf(n, "cannot decode into %s", v.Type())
			return
		}
		if g := d.generic(n); g != nil {
			v.Set(reflect.ValueOf(g))
		} else {
			v.SetZero()
		}
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		d.decodeBool(n, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(n, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.decodeUint(n, v)
	case reflect.Float32, reflect.Float64:
		d.decodeFloat(n, v)
	default:
		d.errorf(n, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true":
			v.SetBool(true)
			return
		case "false":
			v.SetBool(false)
			return
		}
	}
	d.errorf(n, "expected true or false, got %s", describe(n))
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "expected an integer, got %s", describe(n))
		return
	}
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v.OverflowInt(i) {
		if ne, ok := err.(*strconv.NumError); (ok && ne.Err == strconv.ErrRange) || err == nil {
			d.errorf(n, "integer %s is out of range", n.Value)
		} else {
			d.errorf(n, "expected an integer, got %s", describe(n))
		}
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeUint(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "expected a non-negative integer, got %s", describe(n))
		return
	}
	u, err := strconv.ParseUint(n.Value, 0, 64)
	if err != nil || v.OverflowUint(u) {
		if ne, ok := err.(*strconv.NumError); (ok && ne.Err == strconv.ErrRange) || err == nil {
			d.errorf(n, "integer %s is out of range", n.Value)
		} else {
			d.errorf(n, "expected a non-negative integer, got %s", describe(n))
		}
		return
	}
	v.SetUint(u)
}

func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "expected a number, got %s", describe(n))
		return
	}
	var f float64
	switch strings.ToLower(n.Value) {
	case ".inf", "+.inf":
		f = math.Inf(1)
	case "-.inf":
		f = math.Inf(-1)
	case ".nan":
		f = math.NaN()
	default:
		var err error
		f, err = strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			d.errorf(n, "expected a number, got %s", describe(n))
			return
		}
	}
	if v.OverflowFloat(f) {
		d.errorf(n, "number %s is out of range", n.Value)
		return
	}
	v.SetFloat(f)
}

// keyValue is one entry of a mapping, after merge keys are expanded.
type keyValue struct {
	key, value *yaml.Node
}

// pairs returns the entries of mapping node n in file order, reporting
// duplicate keys and keys that are not scalars. Merge keys ("<<: *base")
// contribute the entries the mapping does not set itself.
func (d *decoder) pairs(n *yaml.Node) []keyValue {
	var own, merged []keyValue
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergePairs(val)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "a key must be a plain name, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "key %q is already set at line %d", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		own = append(own, keyValue{k, val})
	}
	for _, kv := range merged {
		if _, set := seen[kv.key.Value]; !set {
			seen[kv.key.Value] = kv.key
			own = append(own, kv)
		}
	}
	return own
}

// mergePairs returns the entries a merge key brings in: one mapping, or a
// list of mappings where earlier ones win.
func (d *decoder) mergePairs(n *yaml.Node) []keyValue {
	target, release := d.follow(n)
	defer release()
	if target == nil {
		return nil
	}
	switch target.Kind {
	case yaml.MappingNode:
		return d.pairs(target)
	case yaml.SequenceNode:
		var out []keyValue
		seen := map[string]bool{}
		for _, item := range target.Content {
			for _, kv := range d.mergePairs(item) {
				if !seen[kv.key.Value] {
					seen[kv.key.Value] = true
					out = append(out, kv)
				}
			}
		}
		return out
	}
	d.errorf(n, "a merge key takes a mapping, got %s", describe(target))
	return nil
}

// structField is one decodable field of a struct type.
type structField struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []structField {
	var fields []structField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields = append(fields, structField{name: name, index: i})
	}
	return fields
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	for _, kv := range d.pairs(n) {
		idx := -1
		for _, f := range fields {
			if f.name == kv.key.Value {
				idx = f.index
				break
			}
		}
		if idx < 0 {
			d.errs = append(d.errs, unknownKey(d.pos(kv.key), kv.key.Value, path, fieldNames(fields)))
			continue
		}
		d.decode(kv.value, v.Field(idx), joinPath(path, kv.key.Value))
	}
}

func fieldNames(fields []structField) []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// unknownKey words the error for a key that is not part of the schema:
// a hint when the key looks like a typo, the allowed keys otherwise.
func unknownKey(pos Pos, key, path string, allowed []string) *Error {
	where := ""
	if path != "" {
		where = " in " + path
	}
	if hint := Suggest(key, allowed); hint != "" {
		return Errorf(pos, "unknown key %q%s%s", key, where, hint)
	}
	if len(allowed) == 0 {
		return Errorf(pos, "unknown key %q%s: no keys are allowed here", key, where)
	}
	return Errorf(pos, "unknown key %q%s; allowed keys: %s", key, where, strings.Join(allowed, ", "))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, "cannot decode into %s: map keys must be strings", v.Type())
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping, got %s", describe(n))
		return
	}
	out := reflect.MakeMap(v.Type())
	elemType := v.Type().Elem()
	for _, kv := range d.pairs(n) {
		elem := reflect.New(elemType).Elem()
		d.decode(kv.value, elem, joinPath(path, kv.key.Value))
		out.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
}

// generic decodes n into plain Go values: map[string]any, []any, string,
// int, float64, bool or nil, as yaml.v3 would for an interface{}.
func (d *decoder) generic(n *yaml.Node) any {
	n, release := d.follow(n)
	defer release()
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for _, kv := range d.pairs(n) {
			m[kv.key.Value] = d.generic(kv.value)
		}
		return m
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, item := range n.Content {
			list[i] = d.generic(item)
		}
		return list
	case yaml.ScalarNode:
		var out any
		if err := n.Decode(&out); err != nil {
			d.errorf(n, "cannot decode %s: %v", describe(n), strings.TrimPrefix(err.Error(), "yaml: "))
			return nil
		}
		return out
	}
	d.errorf(n, "unexpected %s", describe(n))
	return nil
}
