package tsgen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestErrorCodeListsEveryCodeOfTheRootPackage reads the Code constants
// declared in the root package's source, so that a code added there and
// not here fails this test instead of missing from ErrorCode.
func TestErrorCodeListsEveryCodeOfTheRootPackage(t *testing.T) {
	files, err := filepath.Glob("../../*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			declared = append(declared, codeConstants(decl)...)
		}
	}
	var listed []string
	for _, c := range errorCodes() {
		listed = append(listed, string(c))
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if len(declared) == 0 || !slices.Equal(declared, listed) {
		t.Errorf("codes declared in the root package %v, listed for ErrorCode %v", declared, listed)
	}
}

// codeConstants are the values of the constants of type Code in decl.
func codeConstants(decl ast.Decl) []string {
	gen, ok := decl.(*ast.GenDecl)
	if !ok || gen.Tok != token.CONST {
		return nil
	}
	var out []string
	for _, spec := range gen.Specs {
		vs := spec.(*ast.ValueSpec)
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
			continue
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, s)
			}
		}
	}
	return out
}
