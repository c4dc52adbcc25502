package frameforge

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// TestCodesListsEveryCode: Codes, which the HTTP layer's tests walk, has
// every E* constant declared in error.go, so a new code cannot miss its
// status or its documentation.
func TestCodesListsEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, name := range v.Names {
				if lit, ok := v.Values[i].(*ast.BasicLit); ok && name.Name[0] == 'E' {
					s, _ := strconv.Unquote(lit.Value)
					declared = append(declared, s)
				}
			}
		}
	}
	if len(declared) < 20 {
		t.Fatalf("found only %d codes in error.go: %v", len(declared), declared)
	}
	codes := Codes()
	for _, c := range declared {
		if !slices.Contains(codes, c) {
			t.Errorf("Codes() lacks %q", c)
		}
	}
	if len(codes) != len(declared) {
		t.Errorf("Codes() has %d codes; error.go declares %d", len(codes), len(declared))
	}
}
