package asyncapi

import (
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/explain"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
	"github.com/gatehouse-dev/gatehouse/internal/shape"
)

// anyCode is how explain names the refusals of a step that may use any code.
const anyCode = "any code"

// channel is one channel being built, with its messages.
type channel struct {
	key      string
	body     object
	messages object
	keys     keys
}

func (b *builder) newChannel(name string, body object) *channel {
	c := &channel{key: b.channelKeys.unique(name), body: body, messages: object{}, keys: keys{}}
	body["messages"] = c.messages
	b.channels[c.key] = body
	return c
}

// ref is the channel's reference.
func (c *channel) ref() object { return object{"$ref": "#/channels/" + c.key} }

// add puts a message on the channel and returns its reference.
func (c *channel) add(name string, msg object) object {
	key := c.keys.unique(name)
	c.messages[key] = msg
	return object{"$ref": "#/channels/" + c.key + "/messages/" + key}
}

// operation adds an operation under a key made of the channel's and name.
func (b *builder) operation(c *channel, name string, op object) {
	op["channel"] = c.ref()
	b.operations[b.operationKeys.unique(c.key+"."+name)] = op
}

// message is a Socket.IO event named name whose first argument has the
// schema payload (none when nil).
func message(name, title, description string, payload any) object {
	m := object{"name": name, "title": title, "contentType": "application/json"}
	if description != "" {
		m["description"] = description
	}
	if payload != nil {
		m["payload"] = payload
	}
	return m
}

// sends gathers the events a namespace's handlers send, by name.
type sends struct {
	order    []string
	data     map[string][]any
	awaitAck map[string]bool
	from     map[string][]string
}

func (s *sends) add(event, from string, data any, awaitAck bool) {
	if s.data == nil {
		s.data, s.awaitAck, s.from = map[string][]any{}, map[string]bool{}, map[string][]string{}
	}
	if _, ok := s.data[event]; !ok {
		s.order = append(s.order, event)
	}
	s.data[event] = append(s.data[event], data)
	s.awaitAck[event] = s.awaitAck[event] || awaitAck
	s.from[event] = append(s.from[event], from)
}

// namespaceParts are what the handlers of one namespace send and where.
type namespaceParts struct {
	toNamespace, toRoom sends
	// roomNames say how each room name is computed, by which handler.
	roomNames []string
	// codes are the codes any event of the namespace may be refused with.
	codes    map[string]bool
	anyCodes bool
}

// namespace adds the channel of ns, its rooms' channel when its handlers
// use rooms, their messages and operations.
func (b *builder) namespace(ns gatewayconfig.Namespace, rn explain.Namespace) error {
	c := b.newChannel(ns.Name, object{
		"address":     ns.Name,
		"title":       "Namespace " + ns.Name,
		"description": namespaceDescription(ns, rn),
	})
	parts := &namespaceParts{codes: map[string]bool{rn.UnknownEvent.Code: true}}
	for _, h := range append(append([]gatewayconfig.HandlerDecl{}, ns.OnConnect...), ns.OnDisconnect...) {
		parts.handler(h, "a connection hook", nil)
	}
	for _, ev := range ns.Events {
		p, err := b.payloadOf(ev)
		if err != nil {
			return err
		}
		refusals := eventRefusals(rn, explainedEvent(rn, ev.Name))
		parts.count(refusals)
		b.clientEvent(c, rn, ev.Name, ev.Name, p.schemaOrNil(), shape.EventAck(ev.Handlers, p != nil), p, refusals)
		for _, h := range ev.Handlers {
			parts.handler(h, "event "+ev.Name, p)
		}
	}
	if b.cfg.Auth.JWT != nil {
		refusals := append(append([]explain.Refusal{}, rn.EventAdmission...), refreshRefusals()...)
		parts.count(refusals)
		b.clientEvent(c, rn, reserved.AuthRefresh, "renew the token", tokenSchema(), refreshAck(), nil, refusals)
	}
	b.serverEvents(c, ns, &parts.toNamespace)
	if len(parts.toRoom.order) > 0 || len(parts.roomNames) > 0 {
		rooms := b.newChannel(ns.Name+".rooms", object{
			"address": "{room}",
			"title":   "Rooms of " + ns.Name,
			"description": "A room of namespace " + ns.Name + ", named by {room}: the sockets of " + ns.Name +
				" that joined it. It is not an address to connect to: a socket joins and leaves rooms through the events of " + ns.Name + ".",
			"parameters": object{"room": object{"description": "The room's name, as the handlers compute it (CEL): " +
				strings.Join(parts.roomNames, "; ") + "."}},
		})
		b.serverEvents(rooms, ns, &parts.toRoom)
	}
	b.gatewayEvents(c, ns, rn, parts)
	return nil
}

// handler records what h sends and the room it names.
func (parts *namespaceParts) handler(h gatewayconfig.HandlerDecl, from string, p payload) {
	if h.Type == "join" || h.Type == "leave" {
		if room, ok := shape.Option(h.Options, "room"); ok {
			parts.roomNames = append(parts.roomNames, h.Type+" in "+from+": "+room)
		}
	}
	s, ok := shape.SentBy(h, p != nil)
	if !ok {
		return
	}
	var data any
	if s.Data != nil {
		data = jsonSchema(s.Data, p)
	}
	if s.Room != "" {
		parts.roomNames = append(parts.roomNames, h.Type+" to in "+from+": "+s.Room)
		parts.toRoom.add(s.Event, from, data, s.AwaitAck)
		return
	}
	parts.toNamespace.add(s.Event, from, data, s.AwaitAck)
}

// count adds the codes of refusals to the namespace's.
func (parts *namespaceParts) count(refusals []explain.Refusal) {
	for _, r := range refusals {
		if r.Code == anyCode {
			parts.anyCodes = true
			continue
		}
		parts.codes[r.Code] = true
	}
}

// schemaOrNil is the payload's schema, or nil without a schema guard.
func (p payload) schemaOrNil() any {
	if p == nil {
		return nil
	}
	return p.schema()
}

// clientEvent adds the message of an event a client sends, the operation
// that receives it, and its reply: the ack, or the error reply.
func (b *builder) clientEvent(c *channel, rn explain.Namespace, event, title string, payloadSchema any, ack shape.Ack, p payload, refusals []explain.Refusal) {
	description := ""
	if payloadSchema == nil {
		description = "No schema guard checks this event's payload: any value is accepted."
		payloadSchema = object{}
	}
	msg := c.add(event, message(event, title, description, payloadSchema))
	ackRef := c.add(event+".ack", ackMessage(event, ack, p))
	errRef := c.add(event+".error", message(event, event+" refused",
		"The ack of a refused "+event+". "+refusalText(refusals), errorReplySchema(refusals)))
	op := object{
		"action":   "receive",
		"title":    "A client sends " + event,
		"messages": []any{msg},
		"reply":    object{"channel": c.ref(), "messages": []any{ackRef, errRef}},
	}
	if rn.Auth == "required" && len(b.security) > 0 {
		op["security"] = b.security
	}
	b.operation(c, event, op)
}

// ackMessage is the answer of a handled event.
func ackMessage(event string, ack shape.Ack, p payload) object {
	switch ack.Kind {
	case shape.NoAck:
		return message(event, event+" acknowledged", "The ack is called with no argument.", nil)
	case shape.ArgsAck:
		return message(event, event+" acknowledged", "The ack is called with the arguments the handler gives; this is the first.", object{})
	}
	return message(event, event+" acknowledged", "", jsonSchema(ack.Type, p))
}

// serverEvents adds the events the handlers send on c and the operations
// that send them.
func (b *builder) serverEvents(c *channel, ns gatewayconfig.Namespace, s *sends) {
	for _, event := range s.order {
		var alts []any
		anyValue := false
		for _, d := range s.data[event] {
			if d == nil {
				anyValue = true
			}
			alts = appendUnique(alts, d)
		}
		var payloadSchema any = object{}
		if !anyValue {
			payloadSchema = oneOrAnyOf(alts)
		}
		description := "Sent by " + strings.Join(unique(s.from[event]), ", ") + "."
		if anyValue {
			description += " Its arguments are what the handler computes (args), of types the config does not say."
		}
		msg := c.add(event, message(event, event, description, payloadSchema))
		op := object{"action": "send", "title": "The gateway sends " + event, "messages": []any{msg}}
		if s.awaitAck[event] {
			answer := c.add(event+".answer", message(event, "The client's answer to "+event,
				"The gateway waits for it up to server.ack_timeout ("+b.cfg.Server.AckTimeout.String()+"), then refuses the event that sent it with upstream_timeout.", object{}))
			op["reply"] = object{"channel": c.ref(), "messages": []any{answer}}
		}
		b.operation(c, event, op)
	}
}

// gatewayEvents adds the events the gateway itself sends on a namespace:
// exception, connect_error and, with tokens, auth:expiring.
func (b *builder) gatewayEvents(c *channel, ns gatewayconfig.Namespace, rn explain.Namespace, parts *namespaceParts) {
	codes := sortedCodes(parts.codes)
	exception := c.add(reserved.Exception, message(reserved.Exception, "An event refused without an ack",
		"Sent instead of the error reply when a refused event asked for no ack. "+rn.UnknownEvent.Code+": "+rn.UnknownEvent.When+".",
		exceptionSchema(codes, parts.anyCodes)))
	b.operation(c, reserved.Exception, object{"action": "send", "title": "The gateway refuses an event without an ack", "messages": []any{exception}})

	refusals := append([]explain.Refusal{}, rn.ConnectErrors...)
	for _, step := range rn.ConnectGuards {
		refusals = append(refusals, step.Errors...)
	}
	connectError := c.add("connect_error", message("connect_error", "CONNECT refused",
		"The CONNECT_ERROR packet, which socket.io-client emits as connect_error with an Error whose data is {code}; "+
			"a namespace the gateway does not serve gets the standard \"Invalid namespace\" without data. "+refusalText(refusals),
		connectErrorSchema(refusals)))
	b.operation(c, "connect_error", object{"action": "send", "title": "The gateway refuses a CONNECT", "messages": []any{connectError}})

	if b.cfg.Auth.JWT != nil && b.cfg.Auth.OnExpiry != "ignore" {
		expiring := c.add(reserved.AuthExpiring, message(reserved.AuthExpiring, "The token expires soon",
			"Sent auth.expiry_warning ("+b.cfg.Auth.ExpiryWarning.String()+") before the token's exp; without an "+
				reserved.AuthRefresh+" in time the socket is disconnected at exp.",
			object{"type": "object", "required": []any{"expires_in"}, "properties": object{"expires_in": object{"type": "number", "description": "Seconds until the token expires."}}}))
		b.operation(c, reserved.AuthExpiring, object{"action": "send", "title": "The gateway warns of the token's expiry", "messages": []any{expiring}})
	}
}

// namespaceDescription tells who may connect to ns.
func namespaceDescription(ns gatewayconfig.Namespace, rn explain.Namespace) string {
	var auth string
	switch rn.Auth {
	case "required":
		auth = "A token is required to connect."
	case "optional":
		auth = "A token is optional: a socket without one has no claims."
	default:
		auth = "No token is read."
	}
	guards := make([]string, 0, len(ns.Guards))
	for _, g := range ns.Guards {
		guards = append(guards, g.Name)
	}
	if len(guards) > 0 {
		auth += " Connect guards: " + strings.Join(guards, ", ") + "."
	}
	return "Connect with io(url + \"" + ns.Name + "\"). " + auth + " Any event not listed here is refused with " + rn.UnknownEvent.Code + "."
}

// explained is the report's namespace called name.
func explained(r *explain.Report, name string) explain.Namespace {
	for _, ns := range r.Namespaces {
		if ns.Name == name {
			return ns
		}
	}
	return explain.Namespace{Name: name, UnknownEvent: explain.Refusal{Code: "unknown_event", When: "an event this namespace does not declare"}}
}

// explainedEvent is the report's event called name.
func explainedEvent(ns explain.Namespace, name string) explain.Event {
	for _, ev := range ns.Events {
		if ev.Name == name {
			return ev
		}
	}
	return explain.Event{Name: name}
}

// eventRefusals are the refusals an event may get: the gateway's own,
// then its steps' in order.
func eventRefusals(ns explain.Namespace, ev explain.Event) []explain.Refusal {
	out := append([]explain.Refusal{}, ns.EventAdmission...)
	for _, step := range ev.Steps {
		out = append(out, step.Errors...)
	}
	return out
}

// refreshRefusals are those of auth:refresh beside the gateway's own.
func refreshRefusals() []explain.Refusal {
	return []explain.Refusal{
		{Code: "invalid_payload", When: "the payload is not {token: string}"},
		{Code: "unauthorized", When: "the new token does not verify, or has no sub"},
		{Code: "token_expired", When: "the new token has expired"},
		{Code: "forbidden", When: "the new token names another subject, or the socket connected without a token"},
	}
}

func tokenSchema() object {
	return object{"type": "object", "required": []any{"token"}, "properties": object{"token": object{"type": "string", "description": "A fresh token of the same sub."}}}
}

func refreshAck() shape.Ack {
	return shape.Ack{Kind: shape.ValueAck, Type: shape.ObjectOf(
		shape.Member{Name: "ok", Type: shape.LiteralOf(true)},
		shape.Member{Name: "expires_at", Optional: true, Type: shape.Of(shape.Number)},
	)}
}

// refusalText lists refusals as "code: when" sentences, each once.
func refusalText(refusals []explain.Refusal) string {
	parts := make([]string, 0, len(refusals))
	for _, r := range refusals {
		parts = append(parts, r.Code+": "+r.When+".")
	}
	return strings.Join(unique(parts), " ")
}

// codesOf lists the distinct codes of refusals, sorted, and whether a
// step may use any code.
func codesOf(refusals []explain.Refusal) ([]string, bool) {
	set := map[string]bool{}
	anyCodes := false
	for _, r := range refusals {
		if r.Code == anyCode {
			anyCodes = true
			continue
		}
		set[r.Code] = true
	}
	return sortedCodes(set), anyCodes
}

func sortedCodes(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func unique(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
