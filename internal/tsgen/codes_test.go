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

// apiOnlyCodes are the codes only the server API (contract C4) answers
// with: a socket never receives them.
func apiOnlyCodes() []string { return []string{"invalid_request", "unknown_namespace", "not_found"} }

// TestErrorCodeListsEveryCodeOfTheRootPackage reads the Code constants
// declared in the root package's source, so that a code added there and
// not here (nor in apiOnlyCodes) fails this test instead of missing from
// ErrorCode.
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
			for _, code := range codeConstants(decl) {
				if !slices.Contains(apiOnlyCodes(), code) {
					declared = append(declared, code)
				}
			}
		}
	}
	var listed []string
	for _, c := range errorCodes() {
		listed = append(listed, string(c))
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if len(declared) == 0 || !slices.Equal(declared, listed) {
		t.Errorf("codes a socket may get declared in the root package %v, listed for ErrorCode %v", declared, listed)
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
