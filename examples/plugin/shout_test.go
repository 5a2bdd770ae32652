package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

func TestShoutBroadcastsInCapitalsWithItsDefaults(t *testing.T) {
	tests := []struct {
		options   string
		wantEvent string
		wantText  string
	}{
		{"{}", "shout", "HELLO!"},
		{"{event: yell}", "yell", "HELLO!"},
		{`{suffix: ""}`, "shout", "HELLO"},
		{`{event: yell, suffix: "?!"}`, "yell", "HELLO?!"},
	}
	for _, tt := range tests {
		t.Run(tt.options, func(t *testing.T) {
			h := gatehousetest.Handler(t, "shout", tt.options)
			s := gatehousetest.NewRecorder(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat", Claims: gatehouse.Claims{"sub": "ada"}})
			reply, err := h.Handle(context.Background(), gatehousetest.Call(s, "shout", `{"message": "hello"}`))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(reply); string(got) != `{"length":`+strconv.Itoa(len(tt.wantText))+`,"ok":true}` {
				t.Errorf("reply = %s", got)
			}
			b := s.Broadcasts()
			if len(b) != 1 || b[0].Event != tt.wantEvent || len(b[0].Args) != 1 {
				t.Fatalf("broadcasts = %#v, want one %s with one argument", b, tt.wantEvent)
			}
			if got, _ := json.Marshal(b[0].Args[0]); string(got) != `{"text":"`+tt.wantText+`","user":"ada"}` {
				t.Errorf("broadcast argument = %s, want text %s from ada", got, tt.wantText)
			}
		})
	}
}

func TestShoutRefusesAnEmptyEventAtItsPosition(t *testing.T) {
	_, err := gatehousetest.BuildHandler(t, "shout", `{event: ""}`, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "gateway.yaml:1:18: ") || !strings.Contains(err.Error(), "event must not be empty") {
		t.Errorf("error = %v, want 'event must not be empty' at gateway.yaml:1:18", err)
	}
}

func TestShoutRefusesAPayloadWithoutAMessage(t *testing.T) {
	h := gatehousetest.Handler(t, "shout", "{}")
	s := gatehousetest.NewRecorder(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	for _, payload := range []string{`{"message": ""}`, `{}`, `{"message": 7}`, `"hello"`} {
		_, err := h.Handle(context.Background(), gatehousetest.Call(s, "shout", payload))
		if coded := gatehouse.AsError(err); err == nil || coded.Code != gatehouse.CodeInvalidPayload {
			t.Errorf("%s: error = %v, want invalid_payload", payload, err)
		}
	}
	if b := s.Broadcasts(); len(b) != 0 {
		t.Errorf("broadcasts = %#v, want none", b)
	}
}
