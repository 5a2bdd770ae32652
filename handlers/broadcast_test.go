package handlers_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestBroadcastSendsToTheNamespaceOrARoom(t *testing.T) {
	tests := []struct {
		name             string
		options          string
		payload          string
		wantRooms        []string
		wantExceptSender bool
		wantData         string
		wantReply        string
	}{
		{
			name:      "chat message to the whole namespace, sender included",
			options:   `{event: message, data: '{"user": user.sub, "username": user.?username.orValue(""), "message": data.message}'}`,
			payload:   `{"message": "hello"}`,
			wantData:  `{"user": "alice", "username": "Alice", "message": "hello"}`,
			wantReply: `{"ok": true}`,
		},
		{
			name:             "to a room from the payload, sender left out",
			options:          `{event: message, to: data.room, include_sender: false, data: 'data.message', reply: '{"ok": true, "room": data.room}'}`,
			payload:          `{"room": "lobby", "message": "hi"}`,
			wantRooms:        []string{"lobby"},
			wantExceptSender: true,
			wantData:         `"hi"`,
			wantReply:        `{"ok": true, "room": "lobby"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, "broadcast", tt.options)
			got, err := h.Handle(context.Background(), callWith(s, "sendMessage", tt.payload))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.wantReply)
			if len(s.Broadcasts()) != 1 {
				t.Fatalf("broadcasts = %d, want 1", len(s.Broadcasts()))
			}
			b := s.Broadcasts()[0]
			if b.Event != "message" || b.ExceptSender != tt.wantExceptSender || !reflect.DeepEqual(b.Rooms, tt.wantRooms) {
				t.Errorf("broadcast = {event %q, except sender %v, rooms %v}, want {message, %v, %v}",
					b.Event, b.ExceptSender, b.Rooms, tt.wantExceptSender, tt.wantRooms)
			}
			if len(b.Args) != 1 {
				t.Fatalf("args = %#v, want one", b.Args)
			}
			assertJSON(t, "broadcast data", b.Args[0], tt.wantData)
		})
	}
}

func TestBroadcastForwardsTheArgumentsIntactWithoutData(t *testing.T) {
	s := newTestSocket()
	call := callWith(s, "upload", `{"file":{"_placeholder":true,"num":0}}`)
	call.Args.Attachments = [][]byte{[]byte("binary")}
	h := build(t, "broadcast", "event: uploaded")
	if _, err := h.Handle(context.Background(), call); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(s.Broadcasts()) != 1 || len(s.Broadcasts()[0].Args) != 1 {
		t.Fatalf("broadcasts = %#v, want one with one argument", s.Broadcasts())
	}
	if !reflect.DeepEqual(s.Broadcasts()[0].Args[0], call.Args) {
		t.Errorf("args = %#v, want the call's Args %#v", s.Broadcasts()[0].Args[0], call.Args)
	}
}

func TestBroadcastRefusesARoomThatIsNotANonEmptyString(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		message string
	}{
		{"number", `{"room": 7}`, "to must be a string, not a number"},
		{"empty", `{"room": ""}`, "to must not be empty"},
		{"missing", `{}`, "cannot evaluate to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, "broadcast", "{event: message, to: data.room}")
			_, err := h.Handle(context.Background(), callWith(s, "sendToRoom", tt.payload))
			assertCode(t, err, gatehouse.CodeInvalidPayload, tt.message)
			if len(s.Broadcasts()) != 0 {
				t.Errorf("broadcasts = %#v, want none", s.Broadcasts())
			}
		})
	}
}
