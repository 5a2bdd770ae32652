package shape

// Kind is what a Type is.
type Kind int

// The kinds of Type.
const (
	// Unknown is any JSON value: the config does not say.
	Unknown Kind = iota
	String
	Number
	Boolean
	Null
	// Literal is the one JSON value Value.
	Literal
	// Array is a list of Elem.
	Array
	// Object has the Members named and no others.
	Object
	// Map is an object of any keys whose values are Elem.
	Map
	// Union is any of Alts.
	Union
	// Claims are the claims of the socket's token.
	Claims
	// Payload is the event's payload, as its schema guards accept it.
	Payload
	// PayloadField is the field Field of the event's payload.
	PayloadField
)

// Type is the shape of a value.
type Type struct {
	Kind    Kind
	Value   any      // of a Literal
	Elem    *Type    // of an Array or a Map
	Members []Member // of an Object, in the order written
	Alts    []*Type  // of a Union
	Field   string   // of a PayloadField
}

// Member is one named field of an Object.
type Member struct {
	Name     string
	Optional bool
	Type     *Type
}

// Of returns a Type of kind k with nothing more to it (String, Claims, ...).
func Of(k Kind) *Type { return &Type{Kind: k} }

// LiteralOf is the type of the one value v.
func LiteralOf(v any) *Type { return &Type{Kind: Literal, Value: v} }

// ArrayOf is a list of elem.
func ArrayOf(elem *Type) *Type { return &Type{Kind: Array, Elem: elem} }

// MapOf is an object of any keys whose values are elem.
func MapOf(elem *Type) *Type { return &Type{Kind: Map, Elem: elem} }

// ObjectOf is an object of the members named.
func ObjectOf(members ...Member) *Type { return &Type{Kind: Object, Members: members} }

// UnionOf is any of alts; one alternative is itself.
func UnionOf(alts ...*Type) *Type {
	if len(alts) == 1 {
		return alts[0]
	}
	return &Type{Kind: Union, Alts: alts}
}

// widen turns a literal into its primitive type: the fallback of orValue
// stands for any value of its kind once the field may hold another.
func widen(t *Type) *Type {
	if t.Kind != Literal {
		return t
	}
	switch t.Value.(type) {
	case string:
		return Of(String)
	case bool:
		return Of(Boolean)
	case int64, uint64, float64:
		return Of(Number)
	}
	return t
}
