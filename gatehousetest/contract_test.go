package gatehousetest_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The built-in guards and handlers are tested only through the public
// contract, as a plugin's would be: their tests stand outside the package
// and build instances with this kit, never with the gateway's own config
// schema, the YAML library behind it or any other internal package.
func TestBuiltinTestsUseOnlyThePublicContract(t *testing.T) {
	forbidden := map[string]string{
		"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig": "the gateway's own schema",
		"gopkg.in/yaml.v3": "the YAML library behind config.Options",
	}
	// Nothing else internal either: what these tests need, a plugin's
	// would need too.
	const internal = "github.com/gatehouse-dev/gatehouse/internal/"
	var files []string
	for _, dir := range []string{"../guards", "../handlers", "../examples/plugin"} {
		matches, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			t.Fatalf("no test files in %s", dir)
		}
		files = append(files, matches...)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		// Only export_test.go may be inside the package, to expose what no
		// behaviour shows; the tests themselves stand outside, as a plugin's.
		inside := !strings.HasSuffix(f.Name.Name, "_test") && f.Name.Name != "main"
		if inside && filepath.Base(file) != "export_test.go" {
			t.Errorf("%s is in package %s: test the built-ins from package %s_test", file, f.Name.Name, f.Name.Name)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatalf("%s: import %s: %v", fset.Position(imp.Pos()), imp.Path.Value, err)
			}
			if why, ok := forbidden[path]; ok {
				t.Errorf("%s imports %s (%s): build instances with gatehousetest instead", fset.Position(imp.Pos()), path, why)
			} else if strings.HasPrefix(path, internal) {
				t.Errorf("%s imports %s, which a plugin cannot: use gatehousetest (or add what it lacks)", fset.Position(imp.Pos()), path)
			}
		}
	}
}
