package gateway

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/handlers"
	"github.com/gatehouse-dev/gatehouse/internal/engineio"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// recordingConn is an Engine.IO session that keeps the text of every
// packet queued to it.
type recordingConn struct {
	handshake *engineio.Handshake
	signal    chan struct{}
	mu        sync.Mutex
	sent      []string
}

func (c *recordingConn) ID() string                     { return "recording" }
func (c *recordingConn) Handshake() *engineio.Handshake { return c.handshake }
func (c *recordingConn) Transport() string              { return "websocket" }
func (c *recordingConn) Close(string)                   {}
func (c *recordingConn) Send(msgs ...engineio.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.sent = append(c.sent, string(m.Data))
	}
	c.signal <- struct{}{}
	return nil
}

func (c *recordingConn) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		return ""
	}
	return c.sent[len(c.sent)-1]
}

// replyEditingRegistries are the default registries plus "edit_reply", a
// plugin handler that changes, in place, the reply it receives from the
// handler before it, as plugin code may.
func replyEditingRegistries() Registries {
	reg := handlers.NewRegistry()
	for _, name := range handlers.Default().Names() {
		f, _ := handlers.Default().Lookup(name)
		reg.Register(name, f)
	}
	reg.Register("edit_reply", func(gatewayconfig.Options) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(_ context.Context, call *handlers.Call) (any, error) {
			// Each edit shows what it found, so that an edit made to a
			// value shared with an earlier event would show.
			if m, ok := call.Reply.(map[string]any); ok {
				edits, _ := m["edits"].(int)
				m["edits"] = edits + 1
				m["sub"] = "mallory"
				if nested, ok := m["nested"].(map[string]any); ok {
					m["saw"] = nested["n"]
					nested["n"] = "edited"
				}
			}
			return nil, nil
		}), nil
	})
	return Registries{Guards: DefaultRegistries().Guards, Handlers: reg}
}

const replyEditingConfig = `
server:
  limits:
    flood: {rate: 0}
namespaces:
  /chat:
    events:
      whoamiEdited:
        handlers:
          - reply: {value: user}
          - edit_reply: {}
      whoami:
        handler:
          reply: {value: user}
      constantEdited:
        handlers:
          - reply: {value: '{"ok": true, "nested": {"n": 1}}'}
          - edit_reply: {}
`

func TestALaterHandlerEditsACopyOfTheReply(t *testing.T) {
	cfg, err := gatewayconfig.Parse("gateway.yaml", []byte(replyEditingConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := Build(context.Background(), cfg, Options{Registries: replyEditingRegistries()})
	if err != nil {
		t.Fatal(err)
	}
	conn := &recordingConn{
		handshake: &engineio.Handshake{RemoteIP: "127.0.0.1", Local: gatehouse.Claims{"sub": "alice"}},
		signal:    make(chan struct{}, 16),
	}
	listener := gw.Sockets().Open(conn)
	defer listener.OnClose("transport close")
	listener.OnMessage(engineio.Message{Data: []byte("0/chat,")})
	<-conn.signal
	if !strings.HasPrefix(conn.last(), "0/chat,") {
		t.Fatalf("CONNECT not accepted: %q", conn.last())
	}
	tests := []struct {
		name, packet, want string
	}{
		{"the editing handler's own copy", `2/chat,1["whoamiEdited"]`, `3/chat,1[{"edits":1,"sub":"mallory"}]`},
		{"the claims after an edit", `2/chat,2["whoami"]`, `3/chat,2[{"sub":"alice"}]`},
		{"a constant edited once", `2/chat,3["constantEdited"]`, `3/chat,3[{"edits":1,"nested":{"n":"edited"},"ok":true,"saw":1,"sub":"mallory"}]`},
		{"the constant after an edit", `2/chat,4["constantEdited"]`, `3/chat,4[{"edits":1,"nested":{"n":"edited"},"ok":true,"saw":1,"sub":"mallory"}]`},
	}
	for _, tt := range tests {
		listener.OnMessage(engineio.Message{Data: []byte(tt.packet)})
		<-conn.signal
		if got := conn.last(); got != tt.want {
			t.Errorf("%s: ack %s, want %s", tt.name, got, tt.want)
		}
	}
	s := gw.Sockets().Sockets("/chat")
	if len(s) != 1 {
		t.Fatalf("%d sockets in /chat", len(s))
	}
	if got := s[0].Claims(); len(got) != 1 || got["sub"] != "alice" {
		t.Errorf("claims after the edits: %v", got)
	}
}
