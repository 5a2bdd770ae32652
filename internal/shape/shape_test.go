package shape

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// describe writes t compactly, for comparing in tables.
func describe(t *Type) string {
	raw, err := json.Marshal(t)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

func TestExpressionsAreTypedFromTheirShapeThenFromCEL(t *testing.T) {
	for _, c := range []struct {
		src        string
		hasPayload bool
		want       *Type
	}{
		{`"hi"`, false, LiteralOf("hi")},
		{`null`, false, Of(Null)},
		{`b"raw"`, false, Of(Unknown)},
		{`user`, false, Of(Claims)},
		{`user.sub`, false, Of(String)},
		{`user.role`, false, Of(Unknown)},
		{`socket.rooms`, false, ArrayOf(Of(String))},
		{`data`, true, Of(Payload)},
		{`data`, false, Of(Unknown)},
		{`data.room`, true, &Type{Kind: PayloadField, Field: "room"}},
		{`[1, "a"]`, false, ArrayOf(UnionOf(LiteralOf(int64(1)), LiteralOf("a")))},
		{`[]`, false, ArrayOf(Of(Unknown))},
		{`{"ok": true, ?"n": optional.none()}`, false, ObjectOf(Member{Name: "ok", Type: LiteralOf(true)}, Member{Name: "n", Optional: true, Type: Of(Unknown)})},
		{`{user.sub: 1}`, false, MapOf(Of(Unknown))},
		{`user.?username.orValue("")`, false, UnionOf(Of(Unknown), Of(String))},
		{`size(data.message) > 3`, true, Of(Boolean)},
		{`"user:" + user.sub`, false, Of(String)},
		{`this is not CEL`, false, Of(Unknown)},
	} {
		t.Run(c.src, func(t *testing.T) {
			if got := Expr(c.src, c.hasPayload); describe(got) != describe(c.want) {
				t.Errorf("Expr(%q) = %s, want %s", c.src, describe(got), describe(c.want))
			}
		})
	}
}

// loadEvent loads a config whose namespace /n has the one event ev with
// the handlers written, and returns that event.
func loadEvent(t *testing.T, handlers string) gatewayconfig.Event {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	text := "namespaces:\n  /n:\n    events:\n      ev:\n        handlers:\n" + handlers
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := gatewayconfig.Load(path)
	if err != nil {
		t.Fatalf("load:\n%s\n%v", text, err)
	}
	return cfg.Namespaces[0].Events[0]
}

func TestTheAckOfAnEventIsItsLastAnsweringHandlers(t *testing.T) {
	okRoom := ObjectOf(Member{Name: "ok", Type: LiteralOf(true)}, Member{Name: "room", Type: Of(String)})
	for _, c := range []struct {
		name, handlers string
		want           Ack
	}{
		{"reply value", "          - reply: {value: data}\n", Ack{Kind: ValueAck, Type: Of(Unknown)}},
		{"reply args", "          - reply: {args: args}\n", Ack{Kind: ArgsAck}},
		{"join default", "          - join: {room: data.room}\n", Ack{Kind: ValueAck, Type: okRoom}},
		{"broadcast reply", "          - broadcast: {event: e, reply: '{\"ok\": 1}'}\n", Ack{Kind: ValueAck, Type: ObjectOf(Member{Name: "ok", Type: LiteralOf(int64(1))})}},
		{"emit without ack", "          - emit: {event: e}\n", Ack{Kind: NoAck}},
		{"last answering wins", "          - join: {room: data.room}\n          - emit: {event: e}\n", Ack{Kind: ValueAck, Type: okRoom}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := loadEvent(t, c.handlers)
			got := EventAck(ev.Handlers, false)
			if got.Kind != c.want.Kind || (got.Type != nil) != (c.want.Type != nil) || got.Type != nil && describe(got.Type) != describe(c.want.Type) {
				t.Errorf("ack = %+v %s, want %+v %s", got, describe(got.Type), c.want, describe(c.want.Type))
			}
		})
	}
}

func TestSentEventsCarryTheirDataRoomAndAck(t *testing.T) {
	ev := loadEvent(t, "          - broadcast: {event: said, to: data.room, data: '{\"m\": \"x\"}'}\n          - emit: {event: back, await_ack: true}\n          - reply: {value: data}\n")
	said, ok := SentBy(ev.Handlers[0], true)
	if !ok || said.Event != "said" || said.Room != "data.room" || describe(said.Data) != describe(ObjectOf(Member{Name: "m", Type: LiteralOf("x")})) {
		t.Errorf("broadcast sends %+v %s", said, describe(said.Data))
	}
	back, ok := SentBy(ev.Handlers[1], true)
	if !ok || back.Event != "back" || !back.AwaitAck || back.Data.Kind != Payload {
		t.Errorf("emit without data sends the payload on, awaiting the ack: %+v", back)
	}
	if _, ok := SentBy(ev.Handlers[2], true); ok {
		t.Error("reply sends no event")
	}
}
