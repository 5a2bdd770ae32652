package schema

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// A reference table of docs/config.md sits between these markers, the
// section's path after the start marker, then a note for editors:
// "<!-- generated: server.limits; edit ... -->". A guard's or handler's
// options table names the kind and the type: "<!-- generated: guard expr; ...".
const (
	tableStart = "<!-- generated: "
	tableEnd   = "<!-- end generated -->"
)

// section is one reference table: the keys of a config type, with the
// struct-valued keys that have a table of their own left out.
type section struct {
	path string
	typ  reflect.Type
	// own names the struct-valued keys documented in a table of their own:
	// their row stays, their keys are not flattened into this table.
	own map[string]bool
	// skip names the keys left out of this table altogether.
	skip map[string]bool
	// column heads the first column: "Key" for the core, "Option" for a
	// plugin's options.
	column string
}

var sections = []section{
	{path: "server", typ: reflect.TypeFor[gatewayconfig.Server](), skip: map[string]bool{"limits": true, "hooks": true, "tracing": true}},
	{path: "server.limits", typ: reflect.TypeFor[gatewayconfig.Limits]()},
	{path: "server.hooks", typ: reflect.TypeFor[gatewayconfig.Hooks]()},
	{path: "server.tracing", typ: reflect.TypeFor[gatewayconfig.Tracing]()},
	{path: "auth", typ: reflect.TypeFor[gatewayconfig.Auth](), own: map[string]bool{"jwt": true}},
	{path: "auth.jwt", typ: reflect.TypeFor[gatewayconfig.JWT]()},
	{path: "adapter", typ: reflect.TypeFor[gatewayconfig.Adapter]()},
	{path: "api", typ: reflect.TypeFor[gatewayconfig.API]()},
	{path: "cluster", typ: reflect.TypeFor[gatewayconfig.Cluster]()},
	{path: "namespaces.authorizer", typ: reflect.TypeFor[gatewayconfig.Authorizer]()},
	{path: "namespaces.recovery", typ: reflect.TypeFor[gatewayconfig.Recovery]()},
	{path: "namespaces.history", typ: reflect.TypeFor[gatewayconfig.History]()},
	{path: "namespaces.presence", typ: reflect.TypeFor[gatewayconfig.Presence]()},
}

// row is one key of a reference table.
type row struct {
	key, typ, dflt, doc string
}

// UpdateDocs returns the Markdown text of docs/config.md with every
// generated table rewritten from the config types and the options types of
// the given guards and handlers: the keys, their types and defaults come
// from the types' tags; the Meaning of a key already in the table is kept as
// written, since it is prose the tags' one sentence only summarises, and a
// new key gets that sentence. Every core section and every plugin that
// declares its options must have its table.
func UpdateDocs(text []byte, guards, handlers []PluginSpec) ([]byte, error) {
	all, err := allSections(guards, handlers)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	rest := text
	seen := map[string]bool{}
	for {
		i := bytes.Index(rest, []byte(tableStart))
		if i < 0 {
			out.Write(rest)
			break
		}
		out.Write(rest[:i])
		rest = rest[i:]
		nl := bytes.IndexByte(rest, '\n')
		end := bytes.Index(rest, []byte(tableEnd))
		if nl < 0 || end < nl {
			return nil, fmt.Errorf("schema: docs: a %q marker has no %q after it", tableStart, tableEnd)
		}
		header := string(rest[:nl])
		path, _, _ := strings.Cut(strings.TrimPrefix(header, tableStart), ";")
		path = strings.TrimSpace(strings.TrimSuffix(path, "-->"))
		sec, ok := sectionAt(all, path)
		if !ok {
			return nil, fmt.Errorf("schema: docs: no config section, guard or handler %q", path)
		}
		seen[path] = true
		rows, err := sec.rows(meanings(string(rest[nl+1 : end])))
		if err != nil {
			return nil, err
		}
		out.WriteString(header + "\n")
		out.WriteString(renderTable(sec.column, rows))
		out.WriteString(tableEnd)
		rest = rest[end+len(tableEnd):]
	}
	for _, s := range all {
		if !seen[s.path] {
			return nil, fmt.Errorf("schema: docs: no generated table for %s", s.path)
		}
	}
	return out.Bytes(), nil
}

// allSections is the core sections followed by one section per guard and
// handler that declares its options, at the path "guard NAME" or
// "handler NAME".
func allSections(guards, handlers []PluginSpec) ([]section, error) {
	all := make([]section, 0, len(sections)+len(guards)+len(handlers))
	for _, s := range sections {
		s.column = "Key"
		all = append(all, s)
	}
	for _, p := range append(append([]PluginSpec(nil), guards...), handlers...) {
		if p.Options == nil {
			continue
		}
		t := p.Options
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil, fmt.Errorf("schema: docs: %s %q: options type %s is not a struct", p.Kind, p.Name, t)
		}
		all = append(all, section{path: p.Kind + " " + p.Name, typ: t, column: "Option"})
	}
	return all, nil
}

func sectionAt(all []section, path string) (section, bool) {
	for _, s := range all {
		if s.path == path {
			return s, true
		}
	}
	return section{}, false
}

// meanings reads the Meaning column of a table, by key.
func meanings(table string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "`") {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[0]), "`")
		m[key] = strings.TrimSpace(strings.Join(cells[3:], " | "))
	}
	return m
}

func renderTable(column string, rows []row) string {
	var b strings.Builder
	b.WriteString("| " + column + " | Type | Default | Meaning |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.key, r.typ, r.dflt, r.doc)
	}
	return b.String()
}

// rows lists the keys of s in field order, struct-valued keys followed by
// their own keys ("tls", "tls.cert_file").
func (s section) rows(prose map[string]string) ([]row, error) {
	var rows []row
	var walk func(t reflect.Type, prefix string, top bool) error
	walk = func(t reflect.Type, prefix string, top bool) error {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" || (top && s.skip[name]) {
				continue
			}
			key := prefix + name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			isBlock := ft.Kind() == reflect.Struct && ft != durationType && ft != sizeType && !isExpr(ft)
			if !isBlock || f.Type.Kind() == reflect.Pointer {
				r, err := fieldRow(f, key, prose)
				if err != nil {
					return fmt.Errorf("schema: docs: %s.%s: %w", s.path, key, err)
				}
				rows = append(rows, r)
			}
			if isBlock && !(top && s.own[name]) {
				if err := walk(ft, key+".", false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return rows, walk(s.typ, "", true)
}

func fieldRow(f reflect.StructField, key string, prose map[string]string) (row, error) {
	doc := f.Tag.Get("doc")
	if doc == "" {
		return row{}, fmt.Errorf("no doc tag")
	}
	if p, ok := prose[key]; ok && p != "" {
		doc = p
	}
	typ := f.Tag.Get("doctype")
	if typ == "" {
		typ = typeWords(f.Type, f.Tag.Get("enum"))
	}
	dflt, ok := f.Tag.Lookup("docdefault")
	if !ok {
		dflt = "none"
		if d, ok := f.Tag.Lookup("default"); ok {
			dflt = "`" + d + "`"
		}
	}
	return row{key: key, typ: typ, dflt: dflt, doc: doc}, nil
}

// typeWords says in words what a key of Go type t takes.
func typeWords(t reflect.Type, enum string) string {
	words := func(sep string) string {
		return "`" + strings.Join(strings.Split(enum, ","), "`"+sep+"`") + "`"
	}
	switch {
	case t == durationType:
		return "duration"
	case t == sizeType:
		return "size"
	case isExpr(t):
		return "CEL"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeWords(t.Elem(), enum)
	case reflect.Struct, reflect.Map:
		return "mapping"
	case reflect.Slice:
		if enum != "" {
			return "list of " + words(", ")
		}
		return "list of " + typeWords(t.Elem(), "") + "s"
	case reflect.String:
		if enum != "" {
			return words(" or ")
		}
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Float64, reflect.Float32:
		return "number"
	}
	return t.String()
}

// isExpr reports whether t is the CEL expression type options take.
func isExpr(t reflect.Type) bool {
	return strings.HasSuffix(t.PkgPath(), "/expr") && t.Name() == "Expr"
}
