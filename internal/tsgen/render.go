package tsgen

import "github.com/gatehouse-dev/gatehouse/internal/shape"

// tsType is the TypeScript of t, a value of an event whose payload has the
// type payload (nil when it has no schema).
func (g *generator) tsType(t *shape.Type, payload *payloadType) string {
	switch t.Kind {
	case shape.String:
		return "string"
	case shape.Number:
		return "number"
	case shape.Boolean:
		return "boolean"
	case shape.Null:
		return "null"
	case shape.Literal:
		return literal(t.Value)
	case shape.Array:
		return paren(g.tsType(t.Elem, payload)) + "[]"
	case shape.Map:
		return "{ [key: string]: " + g.tsType(t.Elem, payload) + " }"
	case shape.Object:
		members := make([]string, 0, len(t.Members))
		for _, m := range t.Members {
			optional := ""
			if m.Optional {
				optional = "?"
			}
			members = append(members, propertyName(m.Name)+optional+": "+g.tsType(m.Type, payload))
		}
		return objectLiteral(members)
	case shape.Union:
		alts := make([]string, 0, len(t.Alts))
		for _, alt := range t.Alts {
			alts = append(alts, g.tsType(alt, payload))
		}
		return union(alts...)
	case shape.Claims:
		return "Claims"
	case shape.Payload:
		if payload != nil {
			return payload.ts
		}
	case shape.PayloadField:
		if payload != nil {
			return payload.field(g, t.Field)
		}
	}
	return "unknown"
}
