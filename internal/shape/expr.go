package shape

import (
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/gatehouse-dev/gatehouse/internal/expr"
)

// exprTyper gives the type of an expression's value: what its shape says
// (literals, map and list literals, fields of the payload), else CEL's
// static type when it is concrete, else Unknown.
type exprTyper struct {
	// hasPayload is set when the event's payload has a schema, so that
	// data and data.field are typed from it.
	hasPayload bool
	checked    *celast.AST
}

// Expr is the type of the value of the CEL expression src, evaluated on an
// event whose payload has a schema when hasPayload is set. An expression
// the checker refuses (one that names the namespace variable, say) is
// typed from its shape alone.
func Expr(src string, hasPayload bool) *Type {
	env, err := expr.Env()
	if err != nil {
		return Of(Unknown)
	}
	t := &exprTyper{hasPayload: hasPayload}
	ast, issues := env.Compile(src)
	if issues != nil && issues.Err() != nil {
		ast, issues = env.Parse(src)
		if issues != nil && issues.Err() != nil {
			return Of(Unknown)
		}
	} else {
		t.checked = ast.NativeRep()
	}
	return t.typeOf(ast.NativeRep().Expr())
}

func (t *exprTyper) typeOf(e celast.Expr) *Type {
	switch e.Kind() {
	case celast.LiteralKind:
		return literalType(e.AsLiteral())
	case celast.IdentKind:
		return t.identType(e.AsIdent(), e)
	case celast.SelectKind:
		sel := e.AsSelect()
		if !sel.IsTestOnly() {
			if ty, ok := t.fieldType(sel.Operand(), sel.FieldName()); ok {
				return ty
			}
		}
	case celast.MapKind:
		return t.mapType(e.AsMap())
	case celast.ListKind:
		elems := e.AsList().Elements()
		if len(elems) == 0 {
			return ArrayOf(Of(Unknown))
		}
		alts := make([]*Type, 0, len(elems))
		for _, el := range elems {
			alts = append(alts, t.typeOf(el))
		}
		return ArrayOf(UnionOf(alts...))
	case celast.CallKind:
		if ty, ok := t.callType(e.AsCall()); ok {
			return ty
		}
	}
	return t.staticType(e)
}

// literalType is the type of a literal: JSON carries no bytes.
func literalType(v ref.Val) *Type {
	switch v.(type) {
	case types.Bytes:
		return Of(Unknown)
	case types.Null:
		return Of(Null)
	}
	return LiteralOf(v.Value())
}

func (t *exprTyper) identType(name string, e celast.Expr) *Type {
	switch name {
	case "user":
		return Of(Claims)
	case "data":
		if t.hasPayload {
			return Of(Payload)
		}
		return Of(Unknown)
	}
	return t.staticType(e)
}

// fieldType types operand.field where the config knows more than CEL: the
// sub claim, the socket's fields and the payload's fields.
func (t *exprTyper) fieldType(operand celast.Expr, field string) (*Type, bool) {
	if operand.Kind() != celast.IdentKind {
		return nil, false
	}
	switch operand.AsIdent() {
	case "user":
		if field == "sub" {
			return Of(String), true
		}
		return Of(Unknown), true
	case "socket":
		switch field {
		case "id", "ip", "transport", "namespace":
			return Of(String), true
		case "rooms":
			return ArrayOf(Of(String)), true
		}
	case "data":
		if !t.hasPayload {
			return Of(Unknown), true
		}
		return &Type{Kind: PayloadField, Field: field}, true
	}
	return nil, false
}

// callType types x.?f.orValue(v) as the field's type or v's.
func (t *exprTyper) callType(call celast.CallExpr) (*Type, bool) {
	if call.FunctionName() != "orValue" || !call.IsMemberFunction() || len(call.Args()) != 1 {
		return nil, false
	}
	target := call.Target()
	if target.Kind() != celast.CallKind {
		return nil, false
	}
	opt := target.AsCall()
	if opt.FunctionName() != operators.OptSelect || len(opt.Args()) != 2 || opt.Args()[1].Kind() != celast.LiteralKind {
		return nil, false
	}
	field, ok := opt.Args()[1].AsLiteral().Value().(string)
	if !ok {
		return nil, false
	}
	ty, ok := t.fieldType(opt.Args()[0], field)
	if !ok {
		return nil, false
	}
	return UnionOf(ty, widen(t.typeOf(call.Args()[0]))), true
}

func (t *exprTyper) mapType(m celast.MapExpr) *Type {
	members := make([]Member, 0, m.Size())
	for _, entry := range m.Entries() {
		me := entry.AsMapEntry()
		if me.Key().Kind() != celast.LiteralKind {
			return MapOf(Of(Unknown))
		}
		key, ok := me.Key().AsLiteral().Value().(string)
		if !ok {
			return MapOf(Of(Unknown))
		}
		members = append(members, Member{Name: key, Optional: me.IsOptional(), Type: t.typeOf(me.Value())})
	}
	return ObjectOf(members...)
}

// staticType is CEL's type of e when the checker ran and it is concrete.
func (t *exprTyper) staticType(e celast.Expr) *Type {
	if t.checked == nil {
		return Of(Unknown)
	}
	return celType(t.checked.GetType(e.ID()))
}

// celType maps a CEL type to a JSON one; dyn and what JSON cannot carry
// are Unknown.
func celType(ty *types.Type) *Type {
	if ty == nil {
		return Of(Unknown)
	}
	switch ty.Kind() {
	case types.StringKind:
		return Of(String)
	case types.BoolKind:
		return Of(Boolean)
	case types.IntKind, types.UintKind, types.DoubleKind:
		return Of(Number)
	case types.NullTypeKind:
		return Of(Null)
	case types.ListKind:
		return ArrayOf(celType(ty.Parameters()[0]))
	case types.MapKind:
		return MapOf(celType(ty.Parameters()[1]))
	}
	return Of(Unknown)
}
