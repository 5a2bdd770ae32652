package gatehousetest

import (
	"fmt"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// defaultFile is the config file options claim to be written in when a
// Decl names none.
const defaultFile = "gateway.yaml"

// Decl says how the options of a guard or handler under test are declared:
// the config file they are written in, the entry's name, the host given to
// the factory and how the YAML text is laid out. The zero Decl is what
// Options, Guard, Handler, BuildGuard and BuildHandler use: `options: SRC`
// on line 1 of gateway.yaml, no name, a test host.
type Decl struct {
	// File is the config file the options claim to be written in: errors
	// are positioned in it, and Options.Dir, where relative file names
	// (a schema's file:) resolve, is its directory. Default "gateway.yaml".
	File string
	// Name is the entry's name under guards: (Options.Name), which a type
	// may key state shared across nodes by; "" for an inline guard or a
	// handler.
	Name string
	// Host is given to the factory; nil is a host with a discarding logger,
	// a registry of its own and no adapter.
	Host gatehouse.Host
	// Document lays the YAML text out as a document of its own from line 1,
	// column 1 (block mappings over several lines), instead of after
	// `options: ` on line 1.
	Document bool
}

// Options returns the YAML text src as options declared by d, failing the
// test when it is not YAML.
func (d Decl) Options(t testing.TB, src string) config.Options {
	t.Helper()
	opts, err := d.ParseOptions(src)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// ParseOptions is Options returning the YAML error, for Example functions
// and benchmarks.
func (d Decl) ParseOptions(src string) (config.Options, error) {
	file := d.File
	if file == "" {
		file = defaultFile
	}
	text := src
	if !d.Document {
		text = "options: " + src
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text+"\n"), &doc); err != nil {
		return config.Options{}, fmt.Errorf("options %q: %w", src, err)
	}
	// An empty document has no node: options that are absent.
	var n *yaml.Node
	pos := config.Pos{File: file, Line: 1, Column: 1}
	if len(doc.Content) > 0 {
		n = doc.Content[0]
		if !d.Document {
			n = n.Content[1]
		}
		pos.Line, pos.Column = n.Line, n.Column
	}
	opts := gatewayconfig.NewOptions(n, pos)
	if d.Name != "" {
		opts = opts.WithName(d.Name)
	}
	if d.Host != nil {
		opts = opts.WithHost(d.Host)
	}
	return opts, nil
}

// Guard builds a guard of a registered type from its YAML options declared
// by d, failing the test when the factory refuses them; it is closed when
// the test ends.
func (d Decl) Guard(t testing.TB, typ, src string) guards.Guard {
	t.Helper()
	g, err := d.BuildGuard(t, typ, src)
	if err != nil {
		t.Fatalf("%s guard from %q: %v", typ, src, err)
	}
	return g
}

// BuildGuard is Guard returning the factory's error, positioned in d's
// file.
func (d Decl) BuildGuard(t testing.TB, typ, src string) (guards.Guard, error) {
	t.Helper()
	factory, ok := guards.Lookup(typ)
	if !ok {
		t.Fatalf("guard type %q is not registered", typ)
	}
	g, err := factory(d.Options(t, src))
	if err == nil {
		closeAtEnd(t, g)
	}
	return g, err
}

// Handler builds a handler of a registered type from its YAML options
// declared by d, failing the test when the factory refuses them; it is
// closed when the test ends.
func (d Decl) Handler(t testing.TB, typ, src string) handlers.Handler {
	t.Helper()
	h, err := d.BuildHandler(t, typ, src)
	if err != nil {
		t.Fatalf("%s handler from %q: %v", typ, src, err)
	}
	return h
}

// BuildHandler is Handler returning the factory's error, positioned in d's
// file.
func (d Decl) BuildHandler(t testing.TB, typ, src string) (handlers.Handler, error) {
	t.Helper()
	factory, ok := handlers.Lookup(typ)
	if !ok {
		t.Fatalf("handler type %q is not registered", typ)
	}
	h, err := factory(d.Options(t, src))
	if err == nil {
		closeAtEnd(t, h)
	}
	return h, err
}
