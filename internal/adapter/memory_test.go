package adapter

import (
	"context"
	"testing"
)

func TestMemoryIsAlwaysUpAndAlone(t *testing.T) {
	m := NewMemory(nil)
	m.Start(&recorder{})
	if up, cause := m.State(); !up || cause != "" {
		t.Errorf("State() = %v, %q; want up", up, cause)
	}
	if err := m.Send(context.Background(), &Message{Kind: KindBroadcast}); err != nil {
		t.Errorf("Send: %v", err)
	}
	if answers, err := m.Request(context.Background(), &Message{Kind: KindRoomSize}); err != nil || len(answers) != 0 {
		t.Errorf("Request = %v, %v; want no answers", answers, err)
	}
	if err := m.Publish(context.Background(), "events", []byte("{}")); err != nil {
		t.Errorf("Publish: %v", err)
	}
	if m.NodeID() == "" || m.NodeID() == NewMemory(nil).NodeID() {
		t.Errorf("node ids must be set and differ: %q", m.NodeID())
	}
	if m.Errors() != 0 || m.Close() != nil {
		t.Errorf("Errors() = %d, Close() = %v", m.Errors(), m.Close())
	}
}
