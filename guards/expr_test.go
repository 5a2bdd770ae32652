package guards_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/guards"
)

func TestExprGuard(t *testing.T) {
	roomMember := "{condition: data.room in socket.rooms, code: forbidden, message: you must join the room before sending to it}"
	tests := []struct {
		name     string
		options  string
		socket   gatehouse.Socket
		event    string
		payload  string
		wantCode gatehouse.Code
		wantMsg  string
	}{
		{"member of the room", roomMember, alice(), "sendToRoom", `{"room":"dev","message":"hi"}`, "", ""},
		{"not a member", roomMember, alice(), "sendToRoom", `{"room":"ops","message":"hi"}`, gatehouse.CodeForbidden, "you must join the room"},
		{"missing field fails closed", roomMember, alice(), "sendToRoom", `{"message":"hi"}`, gatehouse.CodeForbidden, "you must join the room"},
		{"payload that is not JSON", roomMember, alice(), "sendToRoom", `{"room":`, gatehouse.CodeInvalidPayload, "not valid JSON"},
		{"shorthand condition", "user.role == 'admin'", alice(), "announce", `{}`, "", ""},
		{"default code and message", "user.role == 'admin'", anonymous(), "announce", `{}`, gatehouse.CodeForbidden, "denied by guard"},
		{"optional claim", `'user.?username.orValue("") != ""'`, anonymous(), "e", `{}`, gatehouse.CodeForbidden, "denied"},
		{"custom code", "{condition: has(user.sub), code: unauthorized, message: sign in first}", anonymous(), "e", `{}`, gatehouse.CodeUnauthorized, "sign in first"},
		{"dyn result that is not a bool", "data.flag", alice(), "e", `{"flag":"yes"}`, gatehouse.CodeForbidden, "denied"},
		{"dyn bool result", "data.flag", alice(), "e", `{"flag":true}`, "", ""},
		{"event and namespace", "event == 'typing' && namespace == '/chat'", alice(), "typing", "", "", ""},
		{"at connect the event is empty", "event == '' && socket.ip.startsWith('10.')", alice(), "", `{"token":"x"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatehousetest.Guard(t, "expr", tt.options)
			checkResult(t, g.Check(context.Background(), gatehousetest.Input(tt.socket, tt.event, tt.payload)), tt.wantCode, tt.wantMsg)
		})
	}
}

func TestExprGuardRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		pos     string
		msg     string
	}{
		{"syntax error", "'data.room in'", "1:10", "invalid expression: column"},
		{"undeclared variable", "{condition: usr.role == 'admin'}", "1:22", "undeclared reference to 'usr'"},
		{"not a bool", "{condition: size(data)}", "1:22", "gives int, not a bool"},
		{"unknown code", "{condition: 'true', code: denied}", "1:36", `unknown code "denied"`},
		{"no condition", "{code: forbidden}", "1:10", "condition is required"},
		{"unknown option", "{condition: 'true', mesage: hi}", "", "mesage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, "expr", tt.options)
			wantConfigError(t, err, tt.pos, tt.msg)
		})
	}
}

func BenchmarkGuard_expr(b *testing.B) {
	g := gatehousetest.Guard(b, "expr", "data.room in socket.rooms")
	in := gatehousetest.Input(alice(), "sendToRoom", `{"room":"dev","message":"hi"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestExprGuardSuggestsACode(t *testing.T) {
	_, err := build(t, "expr", "{condition: 'true', code: forbiden}")
	wantConfigError(t, err, "1:36", `unknown code "forbiden" (did you mean "forbidden"?)`)
}

func TestExprGuardSeesArgsBinaryAndHandshakeAuth(t *testing.T) {
	placeholder := json.RawMessage(`{"_placeholder":true,"num":0}`)
	tests := []struct {
		name     string
		options  string
		in       *guards.Input
		wantCode gatehouse.Code
	}{
		{
			"a binary payload is bytes", "type(data) == bytes && size(data) <= 3",
			&guards.Input{Socket: alice(), Event: "upload", Args: gatehouse.Args{Raw: []json.RawMessage{placeholder}, Attachments: [][]byte{{1, 2, 3}}}}, "",
		},
		{
			"too many bytes", "size(data) <= 2",
			&guards.Input{Socket: alice(), Event: "upload", Args: gatehouse.Args{Raw: []json.RawMessage{placeholder}, Attachments: [][]byte{{1, 2, 3}}}}, gatehouse.CodeForbidden,
		},
		{
			"every argument", `size(args) == 2 && args[1] == "b"`,
			&guards.Input{Socket: alice(), Event: "e", Args: gatehouse.Args{Raw: []json.RawMessage{json.RawMessage(`"a"`), json.RawMessage(`"b"`)}}}, "",
		},
		{
			"handshake.auth at connect", `handshake.auth.team == "red"`,
			&guards.Input{Socket: alice(), Auth: gatehouse.NewPayload(json.RawMessage(`{"team":"red"}`))}, "",
		},
		{
			"another team at connect", `handshake.auth.?team.orValue("") == "red"`,
			&guards.Input{Socket: alice(), Auth: gatehouse.NewPayload(json.RawMessage(`{"team":"blue"}`))}, gatehouse.CodeForbidden,
		},
		{
			"no auth payload is {}", `handshake.auth == {}`,
			&guards.Input{Socket: alice()}, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gatehousetest.Guard(t, "expr", tt.options)
			tt.in.Payload = gatehouse.NewPayload(tt.in.Args.First())
			checkResult(t, g.Check(context.Background(), tt.in), tt.wantCode, "")
		})
	}
}
