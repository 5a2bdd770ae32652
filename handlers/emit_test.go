package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestEmitForwardsTheArgumentsIntactWithoutData(t *testing.T) {
	s := newTestSocket()
	call := callWith(s, "echo", `{"_placeholder":true,"num":0}`, `"second"`)
	call.Args.Attachments = [][]byte{{0x01, 0x02, 0xff}}
	h := build(t, "emit", "event: echoed")

	got, err := h.Handle(context.Background(), call)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got != nil {
		t.Errorf("reply = %#v, want none without a reply option", got)
	}
	if len(s.Emits()) != 1 {
		t.Fatalf("emits = %d, want 1", len(s.Emits()))
	}
	e := s.Emits()[0]
	if e.Event != "echoed" {
		t.Errorf("event = %q, want echoed", e.Event)
	}
	if len(e.Args) != 1 || !reflect.DeepEqual(e.Args[0], call.Args) {
		t.Errorf("args = %#v, want the call's Args %#v", e.Args, call.Args)
	}
}

func TestEmitSendsComputedDataAndReply(t *testing.T) {
	tests := []struct {
		name      string
		options   string
		payload   string
		wantData  string
		wantReply string
	}{
		{"data from the payload", "{event: pong, data: 'data.n * 2.0'}", `{"n": 21}`, `42`, `null`},
		{"data and reply", `{event: welcome, data: '{"to": user.sub}', reply: '{"sent": true}'}`, `{}`, `{"to": "alice"}`, `{"sent": true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			h := build(t, "emit", tt.options)
			got, err := h.Handle(context.Background(), callWith(s, "ping", tt.payload))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.wantReply)
			if len(s.Emits()) != 1 || len(s.Emits()[0].Args) != 1 {
				t.Fatalf("emits = %#v, want one with one argument", s.Emits())
			}
			assertJSON(t, "emitted data", s.Emits()[0].Args[0], tt.wantData)
		})
	}
}

func TestEmitFailures(t *testing.T) {
	t.Run("data that cannot be computed emits nothing", func(t *testing.T) {
		s := newTestSocket()
		h := build(t, "emit", "{event: pong, data: data.missing}")
		_, err := h.Handle(context.Background(), callWith(s, "ping", `{}`))
		assertCode(t, err, gatehouse.CodeInvalidPayload, "data")
		if len(s.Emits()) != 0 {
			t.Errorf("emits = %#v, want none", s.Emits())
		}
	})
	t.Run("a socket that cannot send is an internal error", func(t *testing.T) {
		s := newTestSocket()
		closed := errors.New("socket closed")
		s.FailWith(closed)
		h := build(t, "emit", "event: pong")
		_, err := h.Handle(context.Background(), callWith(s, "ping", `{}`))
		if err == nil || !errors.Is(err, closed) {
			t.Fatalf("error = %v, want it to wrap %v", err, closed)
		}
		if gatehouse.AsError(err).Code != gatehouse.CodeInternal {
			t.Errorf("code = %s, want internal", gatehouse.AsError(err).Code)
		}
	})
}

// rawArgs returns the arguments of an emit or broadcast as JSON text, for
// comparisons that do not care whether they were raw or values.
func rawArgs(t *testing.T, args []any) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("argument %d does not encode: %v", i, err)
		}
		out[i] = string(b)
	}
	return out
}

func TestEmitAwaitingAnAckRepliesWithTheClientsAnswer(t *testing.T) {
	tests := []struct {
		name      string
		options   string
		ackWith   []json.RawMessage
		ackErr    error
		wantReply string
		wantCode  gatehouse.Code
	}{
		{"the first ack argument is the reply", "{event: confirm, await_ack: true}",
			[]json.RawMessage{json.RawMessage(`{"accepted": true}`), json.RawMessage(`2`)}, nil, `{"accepted": true}`, ""},
		{"an ack without arguments replies nothing", "{event: confirm, await_ack: true}", nil, nil, `null`, ""},
		{"reply overrides the answer", `{event: confirm, await_ack: true, reply: '{"asked": true}'}`,
			[]json.RawMessage{json.RawMessage(`1`)}, nil, `{"asked": true}`, ""},
		{"no answer in time is upstream_timeout", "{event: confirm, await_ack: true}",
			nil, errors.New("ack timeout"), "", gatehouse.CodeUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSocket()
			s.AnswerAcks(tt.ackWith, tt.ackErr)
			h := build(t, "emit", tt.options)
			got, err := h.Handle(context.Background(), callWith(s, "ask", `{}`))
			if tt.wantCode != "" {
				var coded *gatehouse.Error
				if !errors.As(err, &coded) || coded.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertJSON(t, "reply", got, tt.wantReply)
			if len(s.Emits()) != 1 || s.Emits()[0].Event != "confirm" {
				t.Errorf("emits = %#v, want one confirm", s.Emits())
			}
		})
	}
}
