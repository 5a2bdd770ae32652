package tsgen

import (
	"strings"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"

	"github.com/gatehouse-dev/gatehouse/internal/expr"
)

// exprTyper gives the TypeScript type of an expression's value: what its
// shape says (literals, map and list literals, fields of the payload
// whose schema is known), else CEL's static type when it is concrete,
// else unknown.
type exprTyper struct {
	g *generator
	// payload is the event's payload: its type and the schemas it comes
	// from, to type data.field.
	payload *payloadType
	checked *celast.AST
}

// exprType types src; an expression the checker refuses (one that names
// the namespace variable, say) is typed from its shape alone.
func (g *generator) exprType(src string, payload *payloadType) string {
	env, err := expr.Env()
	if err != nil {
		return "unknown"
	}
	t := &exprTyper{g: g, payload: payload}
	ast, issues := env.Compile(src)
	if issues != nil && issues.Err() != nil {
		ast, issues = env.Parse(src)
		if issues != nil && issues.Err() != nil {
			return "unknown"
		}
	} else {
		t.checked = ast.NativeRep()
	}
	return t.typeOf(ast.NativeRep().Expr())
}

func (t *exprTyper) typeOf(e celast.Expr) string {
	switch e.Kind() {
	case celast.LiteralKind:
		if _, isBytes := e.AsLiteral().(types.Bytes); isBytes {
			return "unknown"
		}
		return literal(e.AsLiteral().Value())
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
			return "unknown[]"
		}
		parts := make([]string, 0, len(elems))
		for _, el := range elems {
			parts = append(parts, t.typeOf(el))
		}
		return paren(union(parts...)) + "[]"
	case celast.CallKind:
		if ty, ok := t.callType(e.AsCall()); ok {
			return ty
		}
	}
	return t.staticType(e)
}

func (t *exprTyper) identType(name string, e celast.Expr) string {
	switch name {
	case "user":
		return "Claims"
	case "data":
		if t.payload != nil {
			return t.payload.ts
		}
		return "unknown"
	}
	return t.staticType(e)
}

// fieldType types operand.field where the config knows more than CEL: the
// sub claim, the socket's fields and the payload's fields.
func (t *exprTyper) fieldType(operand celast.Expr, field string) (string, bool) {
	if operand.Kind() != celast.IdentKind {
		return "", false
	}
	switch operand.AsIdent() {
	case "user":
		if field == "sub" {
			return "string", true
		}
		return "unknown", true
	case "socket":
		switch field {
		case "id", "ip", "transport", "namespace":
			return "string", true
		case "rooms":
			return "string[]", true
		}
	case "data":
		if t.payload == nil {
			return "unknown", true
		}
		return t.payload.field(t.g, field), true
	}
	return "", false
}

// callType types x.?f.orValue(v) as the field's type or v's.
func (t *exprTyper) callType(call celast.CallExpr) (string, bool) {
	if call.FunctionName() != "orValue" || !call.IsMemberFunction() || len(call.Args()) != 1 {
		return "", false
	}
	target := call.Target()
	if target.Kind() != celast.CallKind {
		return "", false
	}
	opt := target.AsCall()
	if opt.FunctionName() != operators.OptSelect || len(opt.Args()) != 2 || opt.Args()[1].Kind() != celast.LiteralKind {
		return "", false
	}
	field, ok := opt.Args()[1].AsLiteral().Value().(string)
	if !ok {
		return "", false
	}
	ty, ok := t.fieldType(opt.Args()[0], field)
	if !ok {
		return "", false
	}
	return union(ty, widen(t.typeOf(call.Args()[0]))), true
}

func (t *exprTyper) mapType(m celast.MapExpr) string {
	members := make([]string, 0, m.Size())
	for _, entry := range m.Entries() {
		me := entry.AsMapEntry()
		if me.Key().Kind() != celast.LiteralKind {
			return "{ [key: string]: unknown }"
		}
		key, ok := me.Key().AsLiteral().Value().(string)
		if !ok {
			return "{ [key: string]: unknown }"
		}
		optional := ""
		if me.IsOptional() {
			optional = "?"
		}
		members = append(members, propertyName(key)+optional+": "+t.typeOf(me.Value()))
	}
	return objectLiteral(members)
}

// staticType is CEL's type of e when the checker ran and it is concrete.
func (t *exprTyper) staticType(e celast.Expr) string {
	if t.checked == nil {
		return "unknown"
	}
	return celTypeTS(t.checked.GetType(e.ID()))
}

// celTypeTS maps a CEL type to TypeScript; dyn and what JSON cannot carry
// are unknown.
func celTypeTS(ty *types.Type) string {
	if ty == nil {
		return "unknown"
	}
	switch ty.Kind() {
	case types.StringKind:
		return "string"
	case types.BoolKind:
		return "boolean"
	case types.IntKind, types.UintKind, types.DoubleKind:
		return "number"
	case types.NullTypeKind:
		return "null"
	case types.ListKind:
		return paren(celTypeTS(ty.Parameters()[0])) + "[]"
	case types.MapKind:
		return "{ [key: string]: " + celTypeTS(ty.Parameters()[1]) + " }"
	}
	return "unknown"
}

// widen turns a literal type into its primitive: the fallback of orValue
// stands for any value of its kind once the field may hold another.
func widen(ts string) string {
	switch {
	case strings.HasPrefix(ts, `"`):
		return "string"
	case ts == "true" || ts == "false":
		return "boolean"
	case len(ts) > 0 && (ts[0] == '-' || ts[0] >= '0' && ts[0] <= '9'):
		return "number"
	}
	return ts
}
