package shape

import (
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// AckKind is what a handler acknowledges an event with.
type AckKind int

// The kinds of Ack.
const (
	// NoAck answers the ack with no argument.
	NoAck AckKind = iota
	// ValueAck answers with one value, of Ack.Type.
	ValueAck
	// ArgsAck answers with several arguments, of types the config does not say.
	ArgsAck
)

// Ack is what a handler answers an event's ack with when it succeeds.
type Ack struct {
	Kind AckKind
	Type *Type // of a ValueAck
}

// AckOf is the ack handler h answers with, for an event whose payload has
// a schema when hasPayload is set.
func AckOf(h gatewayconfig.HandlerDecl, hasPayload bool) Ack {
	key := "reply"
	if h.Type == "reply" {
		if _, ok := Option(h.Options, "args"); ok {
			return Ack{Kind: ArgsAck}
		}
		key = "value"
	}
	if src, ok := Option(h.Options, key); ok {
		return Ack{Kind: ValueAck, Type: Expr(src, hasPayload)}
	}
	ok := Member{Name: "ok", Type: LiteralOf(true)}
	switch h.Type {
	case "broadcast", "publish":
		return Ack{Kind: ValueAck, Type: ObjectOf(ok)}
	case "join", "leave":
		return Ack{Kind: ValueAck, Type: ObjectOf(ok, Member{Name: "room", Type: Of(String)})}
	case "emit":
		if awaitAck, _ := Option(h.Options, "await_ack"); awaitAck == "true" {
			return Ack{Kind: ValueAck, Type: Of(Unknown)}
		}
		return Ack{Kind: NoAck}
	}
	return Ack{Kind: ValueAck, Type: Of(Unknown)}
}

// EventAck is the ack of an event whose handlers are hs: that of its last
// handler that answers with something.
func EventAck(hs []gatewayconfig.HandlerDecl, hasPayload bool) Ack {
	ack := Ack{Kind: NoAck}
	for _, h := range hs {
		if a := AckOf(h, hasPayload); a.Kind != NoAck {
			ack = a
		}
	}
	return ack
}

// Sent is an event the gateway sends to clients from a handler.
type Sent struct {
	Event string
	// Data is the one argument sent, or nil when the handler sends a list
	// of arguments of types the config does not say.
	Data *Type
	// AwaitAck is set when the gateway waits for the client's answer.
	AwaitAck bool
	// Room is the expression of the room sent to (broadcast's to), or "".
	Room string
}

// SentBy is the event handler h sends, if it sends one (broadcast, emit).
func SentBy(h gatewayconfig.HandlerDecl, hasPayload bool) (Sent, bool) {
	if h.Type != "broadcast" && h.Type != "emit" {
		return Sent{}, false
	}
	name, ok := Option(h.Options, "event")
	if !ok {
		return Sent{}, false
	}
	s := Sent{Event: name}
	if data, ok := Option(h.Options, "data"); ok {
		s.Data = Expr(data, hasPayload)
	} else if _, ok := Option(h.Options, "args"); !ok && hasPayload {
		// Without data or args the event's own payload is sent on.
		s.Data = Of(Payload)
	}
	if awaitAck, _ := Option(h.Options, "await_ack"); awaitAck == "true" {
		s.AwaitAck = true
	}
	s.Room, _ = Option(h.Options, "to")
	return s, true
}

// Option is the scalar written under key in a handler's options.
func Option(opts gatewayconfig.Options, key string) (string, bool) {
	n := gatewayconfig.OptionsNode(opts)
	if n == nil || n.Kind != yaml.MappingNode {
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			continue
		}
		v := n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind != yaml.ScalarNode {
			return "", false
		}
		if v.Tag == "!!null" {
			return "null", true
		}
		return v.Value, true
	}
	return "", false
}
