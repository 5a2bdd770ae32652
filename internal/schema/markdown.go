package schema

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/gatehouse-dev/gatehouse/config"
)

// A reference table of docs/config.md sits between these markers, the
// section's path after the start marker, then a note for editors:
// "<!-- generated: server.limits; edit ... -->".
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
}

var sections = []section{
	{path: "server", typ: reflect.TypeFor[config.Server](), skip: map[string]bool{"limits": true}},
	{path: "server.limits", typ: reflect.TypeFor[config.Limits]()},
	{path: "auth", typ: reflect.TypeFor[config.Auth](), own: map[string]bool{"jwt": true}},
	{path: "auth.jwt", typ: reflect.TypeFor[config.JWT]()},
	{path: "adapter", typ: reflect.TypeFor[config.Adapter]()},
	{path: "api", typ: reflect.TypeFor[config.API]()},
}

// row is one key of a reference table.
type row struct {
	key, typ, dflt, doc string
}

// UpdateDocs returns the Markdown text of docs/config.md with every
// generated table rewritten from the config types: the keys, their types and
// defaults come from the types' tags; the Meaning of a key already in the
// table is kept as written, since it is prose the tags' one sentence only
// summarises, and a new key gets that sentence.
func UpdateDocs(text []byte) ([]byte, error) {
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
		sec, ok := sectionAt(path)
		if !ok {
			return nil, fmt.Errorf("schema: docs: no config section %q", path)
		}
		seen[path] = true
		rows, err := sec.rows(meanings(string(rest[nl+1 : end])))
		if err != nil {
			return nil, err
		}
		out.WriteString(header + "\n")
		out.WriteString(renderTable(rows))
		out.WriteString(tableEnd)
		rest = rest[end+len(tableEnd):]
	}
	for _, s := range sections {
		if !seen[s.path] {
			return nil, fmt.Errorf("schema: docs: no generated table for %s", s.path)
		}
	}
	return out.Bytes(), nil
}

func sectionAt(path string) (section, bool) {
	for _, s := range sections {
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

func renderTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
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
			isBlock := ft.Kind() == reflect.Struct && ft != durationType && ft != sizeType
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
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeWords(t.Elem(), enum)
	case reflect.Struct:
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
