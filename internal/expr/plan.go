package expr

import (
	"math"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
)

// A readPlan answers an expression made only of reads, without the CEL
// interpreter: computed payloads such as
//
//	{"user": user.sub, "username": user.?username.orValue(""), "message": data.message}
//
// are map literals of field reads, and running them through CEL costs a
// conversion of every value read, a cost tracker and a dozen allocations
// per event. A plan reads the same values straight from Vars. Whenever
// its answer could differ from CEL's (a key is missing, a value is not a
// plain JSON value, an operand is not a map), read reports false and the
// program runs in CEL, which gives the result or the error it always did.
//
// Values a plan returns are read, not copied: they share memory with Vars
// and with the program (see Program.Eval). A plan is one concrete type
// rather than an interface, so that Vars does not escape through a
// dynamic call.
type readPlan struct {
	kind planKind
	// value is the literal of planConstant and the fallback of
	// planOptional.
	value any
	// name is the variable of planVariable, the field of planSelect,
	// planOptional and planSocket.
	name string
	// from is the operand of planSelect and planOptional.
	from *readPlan
	// keys and values are the entries of planMap.
	keys   []string
	values []readPlan
}

type planKind uint8

const (
	// planConstant is a literal, converted at compile time.
	planConstant planKind = iota + 1
	// planVariable is one of the variables user, data, event, namespace.
	planVariable
	// planSelect is `x.name` on a map: a missing key is CEL's error.
	planSelect
	// planOptional is `x.?name.orValue(value)` on a map.
	planOptional
	// planSocket is `socket.name` for the fields that are strings.
	planSocket
	// planMap is a map literal; its result is a new map of read values.
	planMap
	// planHandshakeAuth is `handshake.auth`.
	planHandshakeAuth
)

// planOf builds the plan of e, or returns nil when e is not made only of
// what plans support: literals, the variables, field selections on them,
// optional field selections with orValue, and map literals of those with
// distinct string keys.
func planOf(e celast.Expr) *readPlan {
	switch e.Kind() {
	case celast.LiteralKind:
		value, err := toJSON(e.AsLiteral())
		if err != nil {
			return nil
		}
		return &readPlan{kind: planConstant, value: value}
	case celast.IdentKind:
		switch name := e.AsIdent(); name {
		case "user", "data", "event", namespaceVar:
			return &readPlan{kind: planVariable, name: name}
		case "args":
			// Read by CEL, which decodes the arguments; the plan lets
			// Program.IsVariable recognise the bare variable.
			return &readPlan{kind: planVariable, name: name}
		}
		// socket alone is a map CEL builds; only its fields are planned.
		return nil
	case celast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil
		}
		operand := sel.Operand()
		if operand.Kind() == celast.IdentKind && operand.AsIdent() == "socket" {
			switch field := sel.FieldName(); field {
			case "id", "ip", "transport", "namespace":
				return &readPlan{kind: planSocket, name: field}
			}
			// The rooms list and unknown fields are left to CEL.
			return nil
		}
		if operand.Kind() == celast.IdentKind && operand.AsIdent() == "handshake" {
			if sel.FieldName() == "auth" {
				return &readPlan{kind: planHandshakeAuth}
			}
			return nil
		}
		from := planOf(operand)
		if from == nil {
			return nil
		}
		return &readPlan{kind: planSelect, from: from, name: sel.FieldName()}
	case celast.CallKind:
		return orValuePlanOf(e.AsCall())
	case celast.MapKind:
		return mapPlanOf(e.AsMap())
	}
	return nil
}

// orValuePlanOf plans `x.?field.orValue(literal)` where x has a plan.
func orValuePlanOf(call celast.CallExpr) *readPlan {
	if call.FunctionName() != "orValue" || !call.IsMemberFunction() || len(call.Args()) != 1 {
		return nil
	}
	fallback := call.Args()[0]
	if fallback.Kind() != celast.LiteralKind {
		return nil
	}
	fallbackValue, err := toJSON(fallback.AsLiteral())
	if err != nil {
		return nil
	}
	target := call.Target()
	if target.Kind() != celast.CallKind {
		return nil
	}
	opt := target.AsCall()
	if opt.FunctionName() != operators.OptSelect || opt.IsMemberFunction() || len(opt.Args()) != 2 {
		return nil
	}
	operand, field := opt.Args()[0], opt.Args()[1]
	if field.Kind() != celast.LiteralKind {
		return nil
	}
	name, ok := field.AsLiteral().Value().(string)
	if !ok {
		return nil
	}
	from := planOf(operand)
	if from == nil || from.kind == planOptional {
		return nil
	}
	return &readPlan{kind: planOptional, from: from, name: name, value: fallbackValue}
}

// mapPlanOf plans a map literal whose keys are distinct string literals.
func mapPlanOf(m celast.MapExpr) *readPlan {
	plan := &readPlan{kind: planMap, keys: make([]string, 0, m.Size()), values: make([]readPlan, 0, m.Size())}
	seen := make(map[string]bool, m.Size())
	for _, entry := range m.Entries() {
		if entry.Kind() != celast.MapEntryKind {
			return nil
		}
		me := entry.AsMapEntry()
		if me.IsOptional() || me.Key().Kind() != celast.LiteralKind {
			return nil
		}
		key, ok := me.Key().AsLiteral().Value().(string)
		if !ok || seen[key] {
			return nil
		}
		seen[key] = true
		value := planOf(me.Value())
		if value == nil {
			return nil
		}
		plan.keys = append(plan.keys, key)
		plan.values = append(plan.values, *value)
	}
	return plan
}

// read computes the plan's value; ok is false when CEL must answer.
func (p *readPlan) read(vars *Vars) (value any, ok bool) {
	switch p.kind {
	case planConstant:
		return p.value, true
	case planVariable:
		switch p.name {
		case "user":
			if vars.User == nil {
				return noClaims, true
			}
			return vars.User, plainJSON(vars.User, 0)
		case "data":
			return vars.Data, plainJSON(vars.Data, 0)
		case "event":
			return vars.Event, true
		case namespaceVar:
			return vars.Namespace, true
		}
	case planSelect, planOptional:
		from, ok := p.from.read(vars)
		if !ok {
			return nil, false
		}
		m, isMap := from.(map[string]any)
		if !isMap {
			return nil, false
		}
		v, present := m[p.name]
		if !present {
			if p.kind == planOptional {
				return p.value, true
			}
			return nil, false
		}
		return v, plainJSON(v, 0)
	case planSocket:
		switch p.name {
		case "id":
			return vars.Socket.ID, true
		case "ip":
			return vars.Socket.IP, true
		case "transport":
			return vars.Socket.Transport, true
		case "namespace":
			return vars.Namespace, true
		}
	case planHandshakeAuth:
		auth, err := vars.auth()
		if err != nil {
			return nil, false
		}
		return auth, plainJSON(auth, 0)
	case planMap:
		out := make(map[string]any, len(p.keys))
		for i, key := range p.keys {
			v, ok := p.values[i].read(vars)
			if !ok {
				return nil, false
			}
			out[key] = v
		}
		return out, true
	}
	return nil, false
}

// plainJSON reports whether v is made only of the values toJSON produces,
// so that it can be returned as it is: what CEL would give back after its
// conversions is equal to it. Anything else (a Go int, a json.Number, a
// NaN, nesting deeper than CEL would follow) leaves the value to CEL.
func plainJSON(v any, depth int) bool {
	if depth > maxPlainDepth {
		return false
	}
	switch v := v.(type) {
	case nil, string, bool, int64, []byte:
		// []byte is what toJSON makes of CEL bytes, and what data holds
		// where the event carried a binary attachment.
		return true
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case map[string]any:
		for _, elem := range v {
			if !plainJSON(elem, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, elem := range v {
			if !plainJSON(elem, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// maxPlainDepth bounds the walk of plainJSON; decoded payloads are far
// shallower, and the decoder refuses deeper ones.
const maxPlainDepth = 10000
