package handlers_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestJoinAndLeaveChangeTheSocketsRooms(t *testing.T) {
	s := newTestSocket()
	join := build(t, "join", "room: data.room")
	leave := build(t, "leave", `{room: data.room, reply: '{"left": data.room, "rooms": socket.rooms}'}`)
	joinWithRooms := build(t, "join", `{room: '"team-" + user.sub', reply: 'socket.rooms'}`)

	got, err := join.Handle(context.Background(), callWith(s, "join", `{"room": "lobby"}`))
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	assertJSON(t, "join reply", got, `{"ok": true, "room": "lobby"}`)
	if !s.InRoom("lobby") {
		t.Fatalf("socket is not in lobby after join")
	}

	// The reply is computed after the join, so it sees the new room.
	got, err = joinWithRooms.Handle(context.Background(), callWith(s, "join", `{}`))
	if err != nil {
		t.Fatalf("join with rooms: %v", err)
	}
	assertJSON(t, "join reply", got, `["lobby", "team-alice"]`)

	got, err = leave.Handle(context.Background(), callWith(s, "leave", `{"room": "lobby"}`))
	if err != nil {
		t.Fatalf("leave: %v", err)
	}
	assertJSON(t, "leave reply", got, `{"left": "lobby", "rooms": ["team-alice"]}`)
	if s.InRoom("lobby") {
		t.Errorf("socket is still in lobby after leave")
	}
	if !reflect.DeepEqual(s.Joins(), []string{"lobby", "team-alice"}) || !reflect.DeepEqual(s.Leaves(), []string{"lobby"}) {
		t.Errorf("joins %v, leaves %v", s.Joins(), s.Leaves())
	}
}

func TestRoomHandlersRefuseBadRooms(t *testing.T) {
	tests := []struct {
		handlerType string
		payload     string
		message     string
	}{
		{"join", `{"room": ["a"]}`, "room must be a string, not an array"},
		{"join", `{"room": ""}`, "room must not be empty"},
		{"leave", `{"rooms": "a"}`, "cannot evaluate room"},
		{"leave", `{"room": null}`, "room must be a string, not null"},
	}
	for _, tt := range tests {
		t.Run(tt.handlerType+" "+tt.payload, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, tt.handlerType, "room: data.room")
			_, err := h.Handle(context.Background(), callWith(s, tt.handlerType, tt.payload))
			assertCode(t, err, gatehouse.CodeInvalidPayload, tt.message)
			if len(s.Joins())+len(s.Leaves()) != 0 {
				t.Errorf("joins %v, leaves %v, want none", s.Joins(), s.Leaves())
			}
		})
	}
}

func TestJoinReportsASocketThatCannotJoin(t *testing.T) {
	s := newTestSocket()
	closed := errors.New("socket closed")
	s.FailWith(closed)
	h := build(t, "join", "room: data.room")
	_, err := h.Handle(context.Background(), callWith(s, "join", `{"room": "lobby"}`))
	if !errors.Is(err, closed) {
		t.Fatalf("error = %v, want it to wrap %v", err, closed)
	}
}
