package handlers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

// The tests of this file render what the handlers produce as the gateway
// encodes it (gatehousetest.AckPackets and EventPackets), so that they check
// the packets a client receives: the text part and each binary attachment.

const (
	placeholder0 = `{"_placeholder":true,"num":0}`
	placeholder1 = `{"_placeholder":true,"num":1}`
)

// binaryCall is a call whose arguments are JSON texts with placeholders
// referring to attachments.
func binaryCall(s gatehouse.Socket, attachments [][]byte, args ...string) *handlers.Call {
	call := callWith(s, "message", args...)
	call.Args.Attachments = attachments
	return call
}

// wire renders packets as the text part followed by each attachment in
// brackets, as "451-[...] <010203>".
func wire(packets []gatehousetest.Packet) string {
	var b strings.Builder
	for i, p := range packets {
		if i > 0 {
			b.WriteString(" ")
		}
		if p.Binary != nil {
			b.WriteString("<")
			for _, c := range p.Binary {
				b.WriteString(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15]))
			}
			b.WriteString(">")
			continue
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

// ackWire encodes a handler's reply as the gateway acks it: no argument for
// nil, else the reply as the one argument (a gatehouse.Args is spliced).
func ackWire(t *testing.T, reply any) string {
	t.Helper()
	packets, err := gatehousetest.AckPackets("/", 7, reply)
	if err != nil {
		t.Fatalf("AckPackets(%#v): %v", reply, err)
	}
	return wire(packets)
}

func TestReplyAcksWithBinaryAsAttachments(t *testing.T) {
	one, two := []byte{1, 2, 3}, []byte{4, 5, 6}
	tests := []struct {
		name        string
		options     string
		attachments [][]byte
		args        []string
		want        string
	}{
		{
			"args: args acks with every argument exactly as received",
			"args: args", nil, []string{`1`, `"2"`, `{"3":[false]}`},
			`37[1,"2",{"3":[false]}]`,
		},
		{
			"args: args keeps the binary arguments and their attachments",
			"args: args", [][]byte{one, two}, []string{placeholder0, placeholder1},
			`62-7[` + placeholder0 + `,` + placeholder1 + `] <010203> <040506>`,
		},
		{
			"value: data gives the bytes of a binary payload back",
			"value: data", [][]byte{one}, []string{placeholder0},
			`61-7[` + placeholder0 + `] <010203>`,
		},
		{
			"value: data keeps bytes nested in an object",
			"value: data", [][]byte{one}, []string{`{"name":"a.bin","file":` + placeholder0 + `}`},
			`61-7[{"file":` + placeholder0 + `,"name":"a.bin"}] <010203>`,
		},
		{
			"a computed object holding a received attachment",
			`value: '{"size": size(data.file), "file": data.file}'`, [][]byte{one}, []string{`{"file":` + placeholder0 + `}`},
			`61-7[{"file":` + placeholder0 + `,"size":3}] <010203>`,
		},
		{
			"bytes built in CEL",
			`value: '{"greeting": b"hi"}'`, nil, []string{`{}`},
			`61-7[{"greeting":` + placeholder0 + `}] <6869>`,
		},
		{
			"a list of arguments, one of them binary",
			`args: '[data.name, args[1]]'`, [][]byte{two}, []string{`{"name":"a.bin"}`, placeholder0},
			`61-7["a.bin",` + placeholder0 + `] <040506>`,
		},
		{
			"args: args with no argument acks with none",
			"args: args", nil, nil,
			`37[]`,
		},
		{
			"a payload without binary is sent as before",
			"value: data", nil, []string{`{"message":"hi"}`},
			`37[{"message":"hi"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, "reply", tt.options)
			reply, err := h.Handle(context.Background(), binaryCall(newTestSocket(), tt.attachments, tt.args...))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := ackWire(t, reply); got != tt.want {
				t.Errorf("ack = %s\nwant  %s", got, tt.want)
			}
		})
	}
}

func TestOneAttachmentEchoedManyTimesIsSentOnce(t *testing.T) {
	// A client may name one attachment from many placeholders; echoed
	// through an expression, the packet still carries its bytes once.
	big := make([]byte, 64<<10)
	placeholders := strings.Repeat(placeholder0+",", 999) + placeholder0
	h := build(t, "reply", "value: data")
	reply, err := h.Handle(context.Background(), binaryCall(newTestSocket(), [][]byte{big}, "["+placeholders+"]"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	packets, err := gatehousetest.AckPackets("/", 7, reply)
	if err != nil {
		t.Fatalf("AckPackets: %v", err)
	}
	if len(packets) != 2 || len(packets[1].Binary) != len(big) {
		t.Fatalf("ack has %d messages, want the text and one attachment of %d bytes", len(packets), len(big))
	}
	if !strings.HasPrefix(packets[0].Text, "61-7[[") {
		t.Fatalf("ack text = %.40s..., want a BINARY_ACK with one attachment", packets[0].Text)
	}
}

func TestEmitAndBroadcastSendBinaryAsAttachments(t *testing.T) {
	one := []byte{1, 2, 3}
	tests := []struct {
		name    string
		handler string
		options string
		args    []string
		want    string
	}{
		{
			"emit without data sends every argument, binary included",
			"emit", "event: message-back", []string{`1`, placeholder0},
			`51-["message-back",1,` + placeholder0 + `] <010203>`,
		},
		{
			"emit with data over a binary payload",
			"emit", "{event: message-back, data: data}", []string{`{"f":` + placeholder0 + `}`},
			`51-["message-back",{"f":` + placeholder0 + `}] <010203>`,
		},
		{
			"emit with args",
			"emit", `{event: message-back, args: '["first", data.f]'}`, []string{`{"f":` + placeholder0 + `}`},
			`51-["message-back","first",` + placeholder0 + `] <010203>`,
		},
		{
			"broadcast with data over a binary payload",
			"broadcast", "{event: message-back, data: data.f}", []string{`{"f":` + placeholder0 + `}`},
			`51-["message-back",` + placeholder0 + `] <010203>`,
		},
		{
			"broadcast with args",
			"broadcast", `{event: message-back, args: 'args'}`, []string{`"a"`, placeholder0},
			`51-["message-back","a",` + placeholder0 + `] <010203>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, tt.handler, tt.options)
			if _, err := h.Handle(context.Background(), binaryCall(s, [][]byte{one}, tt.args...)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			var event string
			var args []any
			if tt.handler == "emit" {
				if len(s.Emits()) != 1 {
					t.Fatalf("%d emits, want 1", len(s.Emits()))
				}
				event, args = s.Emits()[0].Event, s.Emits()[0].Args
			} else {
				if len(s.Broadcasts()) != 1 {
					t.Fatalf("%d broadcasts, want 1", len(s.Broadcasts()))
				}
				event, args = s.Broadcasts()[0].Event, s.Broadcasts()[0].Args
			}
			packets, err := gatehousetest.EventPackets("/", event, args...)
			if err != nil {
				t.Fatalf("EventPackets: %v", err)
			}
			if got := wire(packets); got != tt.want {
				t.Errorf("event = %s\nwant    %s", got, tt.want)
			}
		})
	}
}

func TestOnConnectHandlersSeeTheHandshakeAuth(t *testing.T) {
	tests := []struct {
		name string
		auth *gatehouse.Payload
		data string
		want string
	}{
		{"the payload as sent", gatehouse.NewPayload(json.RawMessage(`{"token":"123","room":"r1"}`)), "handshake.auth", `{"room":"r1","token":"123"}`},
		{"no payload is {}", nil, "handshake.auth", `{}`},
		{"an absent member reads as absent", gatehouse.NewPayload(json.RawMessage(`{"room":"r1"}`)), `handshake.auth.?token.orValue("none")`, `"none"`},
		{"a field", gatehouse.NewPayload(json.RawMessage(`{"room":"r1"}`)), `"room:" + handshake.auth.room`, `"room:r1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, "emit", "{event: auth, data: '"+strings.ReplaceAll(tt.data, "'", "''")+"'}")
			call := &handlers.Call{Socket: s, Event: "connect", Payload: gatehouse.NewPayload(nil), Auth: tt.auth}
			if _, err := h.Handle(context.Background(), call); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(s.Emits()) != 1 || len(s.Emits()[0].Args) != 1 {
				t.Fatalf("emits = %#v, want one event with one argument", s.Emits())
			}
			assertJSON(t, "auth event", s.Emits()[0].Args[0], tt.want)
		})
	}
}

func TestArgsOptionsRefusedAtLoad(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		options string
		want    string
	}{
		{"reply without value or args", "reply", "{}", "reply: value or args is required"},
		{"reply with both", "reply", "{value: data, args: args}", "gateway.yaml:1:21: reply: value and args are exclusive"},
		{"reply args that is not a list", "reply", `{args: '"x"'}`, "gateway.yaml:1:8: reply: args must give a list"},
		{"emit with data and args", "emit", "{event: e, data: data, args: args}", "gateway.yaml:1:30: emit: data and args are exclusive"},
		{"broadcast args that is a map", "broadcast", `{event: e, args: '{"a": 1}'}`, "gateway.yaml:1:18: broadcast: args must give a list"},
		{"a room named by bytes", "join", `{room: 'b"r"'}`, "gateway.yaml:1:8: join: room must give a string, the room's name, not bytes"},
		{"a room named by a number", "leave", `{room: '1 + 1'}`, "gateway.yaml:1:8: leave: room must give a string, the room's name, not int"},
		{"broadcast to bytes", "broadcast", `{event: e, to: 'bytes("r")'}`, "gateway.yaml:1:16: broadcast: to must give a string, the room's name, not bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryBuild(t, tt.handler, tt.options)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReplyArgsThatAreNotAListAtRunTimeAreInvalidPayload(t *testing.T) {
	h := build(t, "reply", "args: data")
	_, err := h.Handle(context.Background(), callWith(newTestSocket(), "x", `{"a": 1}`))
	assertCode(t, err, gatehouse.CodeInvalidPayload, "args must be a list, not an object")
}

func TestEveryReplyOptionSendsBinaryAsAttachments(t *testing.T) {
	// join, leave and publish compute their ack with the same `reply`
	// option as emit and broadcast.
	tests := []struct{ handler, options string }{
		{"join", `{room: '"r"', reply: '{"file": data.file}'}`},
		{"leave", `{room: '"r"', reply: '{"file": data.file}'}`},
		{"publish", `{reply: '{"file": data.file}'}`},
		{"emit", `{event: e, reply: '{"file": data.file}'}`},
		{"broadcast", `{event: e, reply: '{"file": data.file}'}`},
	}
	for _, tt := range tests {
		t.Run(tt.handler, func(t *testing.T) {
			h := buildWithHost(t, tt.handler, tt.options, publisherHost(&testPublisher{}))
			call := binaryCall(newTestSocket(), [][]byte{{1, 2, 3}}, `{"file":`+placeholder0+`}`)
			reply, err := h.Handle(context.Background(), call)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got, want := ackWire(t, reply), `61-7[{"file":`+placeholder0+`}] <010203>`; got != want {
				t.Errorf("ack = %s\nwant  %s", got, want)
			}
		})
	}
}
