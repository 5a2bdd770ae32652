package schema

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

func TestUpdateDocsKeepsMeaningsAndFillsNewKeys(t *testing.T) {
	var doc strings.Builder
	for _, s := range sections {
		doc.WriteString("## " + s.path + "\n\n" + tableStart + s.path + "; note -->\n")
		if s.path == "server" {
			doc.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n| `listen` | wrong | `:1` | Hand-written prose. |\n| `gone` | string | none | A key the types no longer have. |\n")
		}
		doc.WriteString(tableEnd + "\n\nProse after.\n")
	}
	out, err := UpdateDocs([]byte(doc.String()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"| `listen` | string, host:port | `\":8080\"` | Hand-written prose. |",
		"| `ping_interval` | duration > 0 | `25s` | How often the server pings a client. |",
		"| `tls.cert_file` | string | — |",
		"| `flood.burst` | integer ≥ 1 | `200` |",
		"Prose after.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"`gone`", "| `limits` |", "`jwt.secret`"} {
		if strings.Contains(s, gone) {
			t.Errorf("output has %s", gone)
		}
	}
	if _, err := UpdateDocs([]byte(tableStart+"nowhere -->\n"+tableEnd), nil, nil); err == nil {
		t.Error("a table for an unknown section was accepted")
	}
}

// TestDefaultTagsAreWhatTheLoaderApplies loads a file that writes only the
// blocks that hold defaults and compares every default tag with the value
// the loader gave the field.
func TestDefaultTagsAreWhatTheLoaderApplies(t *testing.T) {
	src := "auth:\n  jwt:\n    secret: s\n    algorithms: [HS256]\nadapter:\n  kind: redis\n  redis:\n    url: redis://localhost:6379\n"
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	// What src writes keeps what it says; every other default is compared.
	written := map[string]bool{"adapter.kind": true}
	checked := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv := v.Field(i)
			if lit, ok := f.Tag.Lookup("default"); ok && !written[path+name] {
				if want := decodeLiteral(t, f.Type, lit); !reflect.DeepEqual(fv.Interface(), want) {
					t.Errorf("%s%s: the default tag says %s, the loader gives %v", path, name, lit, fv.Interface())
				}
				checked++
			}
			if fv.Kind() == reflect.Struct || (fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct) {
				if fv.Kind() == reflect.Pointer && fv.IsNil() {
					continue
				}
				walk(fv, path+name+".")
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	if checked < 30 {
		t.Fatalf("checked %d defaults", checked)
	}
}

// decodeLiteral decodes a default tag's YAML literal into a value of type
// typ, the way the loader decodes that field.
func decodeLiteral(t *testing.T, typ reflect.Type, literal string) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+literal), &doc); err != nil {
		t.Fatalf("default %q is not YAML: %v", literal, err)
	}
	holder := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: typ, Tag: `yaml:"v"`}}))
	if err := gatewayconfig.NewOptions(doc.Content[0], gatewayconfig.Pos{File: "tag"}).Decode(holder.Interface()); err != nil {
		t.Fatalf("default %q does not decode: %v", literal, err)
	}
	return holder.Elem().Field(0).Interface()
}

// TestEnumTagsAreTheWordsTheLoaderAccepts writes each word of every enum
// tag, and one word that is not, where the loader reads it.
func TestEnumTagsAreTheWordsTheLoaderAccepts(t *testing.T) {
	fields := []struct {
		typ   reflect.Type
		field string
		yaml  func(word string) string
	}{
		{reflect.TypeFor[gatewayconfig.Server](), "Transports", func(w string) string { return "server:\n  transports: [" + w + "]\n" }},
		{reflect.TypeFor[gatewayconfig.Server](), "SlowConsumer", func(w string) string { return "server:\n  slow_consumer: " + w + "\n" }},
		{reflect.TypeFor[gatewayconfig.Auth](), "OnExpiry", func(w string) string { return "auth:\n  on_expiry: " + w + "\n" }},
		{reflect.TypeFor[gatewayconfig.Adapter](), "Kind", func(w string) string {
			return "adapter:\n  kind: " + w + "\n  redis:\n    url: redis://localhost:6379\n"
		}},
	}
	for _, f := range fields {
		sf, ok := f.typ.FieldByName(f.field)
		if !ok || sf.Tag.Get("enum") == "" {
			t.Fatalf("%s.%s has no enum tag", f.typ.Name(), f.field)
		}
		for _, word := range strings.Split(sf.Tag.Get("enum"), ",") {
			if _, err := gatewayconfig.Parse("gateway.yaml", []byte(f.yaml(word)), nil); err != nil {
				t.Errorf("%s.%s: the loader refuses %q of the enum tag: %v", f.typ.Name(), f.field, word, err)
			}
		}
		if _, err := gatewayconfig.Parse("gateway.yaml", []byte(f.yaml("nonsense")), nil); err == nil {
			t.Errorf("%s.%s: the loader accepts a word outside the enum tag", f.typ.Name(), f.field)
		}
	}
}

// pluginOptions stands for a plugin's declared options in the tests.
type pluginOptions struct {
	Limit gatewayconfig.Size `yaml:"limit" doc:"The largest size." docdefault:"**required**"`
	Mode  string             `yaml:"mode" doc:"How it counts." default:"fast" enum:"fast,slow"`
}

func TestUpdateDocsWritesEachDeclaredPluginsOptionsTable(t *testing.T) {
	declared := []PluginSpec{
		{Kind: "guard", Name: "sized", Options: reflect.TypeFor[pluginOptions]()},
		{Kind: "guard", Name: "free"}, // options not declared: no table
	}
	var core strings.Builder
	for _, s := range sections {
		core.WriteString(tableStart + s.path + "; note -->\n" + tableEnd + "\n")
	}
	sized := "### sized\n\nProse before.\n\n" + tableStart + "guard sized; note -->\n" +
		"| Option | Type | Default | Meaning |\n|---|---|---|---|\n| `limit` | wrong | wrong | Hand-written prose. |\n| `gone` | string | none | An option the type no longer has. |\n" +
		tableEnd + "\n\nProse after.\n"
	out, err := UpdateDocs([]byte(core.String()+sized), declared, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"Prose before.\n\n" + tableStart + "guard sized; note -->\n| Option | Type | Default | Meaning |",
		"| `limit` | size | **required** | Hand-written prose. |",
		"| `mode` | `fast` or `slow` | `fast` | How it counts. |",
		tableEnd + "\n\nProse after.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "`gone`") {
		t.Error("an option the type no longer has kept its row")
	}

	if _, err := UpdateDocs([]byte(core.String()), declared, nil); err == nil || !strings.Contains(err.Error(), "guard sized") {
		t.Errorf("a declared plugin without a table: err = %v, want one naming guard sized", err)
	}
	stray := tableStart + "handler sized; note -->\n" + tableEnd + "\n"
	if _, err := UpdateDocs([]byte(core.String()+sized+stray), declared, nil); err == nil {
		t.Error("a table for a handler that is not registered was accepted")
	}
}
