package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// presenceGuardConfig caps a room at two users with presence.count and lets
// only a room's members speak in it with presence.member.
const presenceGuardConfig = `
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
guards:
  room_not_full:
    expr: {condition: 'presence.member(data.room, user.sub) || presence.count(data.room) < 2', code: forbidden, message: the room is full}
  in_room:
    expr: {condition: 'presence.member(data.room, user.sub)', code: forbidden, message: join the room first}
namespaces:
  /chat:
    auth: required
    events:
      join:
        guards: [room_not_full]
        handler:
          join: {room: data.room, reply: '{"ok": true}'}
      say:
        guards: [in_room]
        handler:
          reply: {value: '{"ok": true}'}
`

// TestPresenceExpressionsGuardARoomsSizeAndItsMembers has guards read
// presence.count (a room of two users refuses a third, not a second socket
// of a member) and presence.member (only a member may speak in it).
func TestPresenceExpressionsGuardARoomsSizeAndItsMembers(t *testing.T) {
	g := startLiveGateway(t, presenceGuardConfig, Registries{})
	connect := func(user string) func(event string) map[string]any {
		c, err := presenceClient(g, presenceToken(t, user))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return func(event string) map[string]any {
			return ackOf(t, c, "/chat", event, map[string]string{"room": "r"})
		}
	}
	alice, bob, bob2, carol := connect("alice"), connect("bob"), connect("bob"), connect("carol")
	if code := errorCode(carol("say")); code != "forbidden" {
		t.Fatalf("carol speaking outside: %q", code)
	}
	for name, emit := range map[string]func(string) map[string]any{"alice": alice, "bob": bob} {
		if ack := emit("join"); errorCode(ack) != "" {
			t.Fatalf("%s join: %v", name, ack)
		}
	}
	if ack := bob2("join"); errorCode(ack) != "" {
		t.Fatalf("bob's second socket: %v", ack)
	}
	if ack := carol("join"); errorCode(ack) != "forbidden" || !strings.Contains(fmt.Sprint(ack), "full") {
		t.Fatalf("carol joining a full room: %v", ack)
	}
	if ack := bob2("say"); errorCode(ack) != "" {
		t.Fatalf("bob speaking inside: %v", ack)
	}
}
