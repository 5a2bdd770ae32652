package lifecycle

import (
	"testing"
)

// queued lists the types of the events waiting in s.
func queued(s *Sender) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.queue {
		out = append(out, ev.Type)
	}
	return out
}

func TestHooksSendNothingForASocketThatLeftBeforeItsConnectWasSent(t *testing.T) {
	s := NewSender(Options{URL: "http://127.0.0.1:1/", Node: "n"})
	h := New(s, nil, RoomsOptions{})
	var p Presence
	h.Disconnected(&p, "/chat", "s1", "alice", "transport close") // the close won the race
	h.Connected(&p, "/chat", "s1", "alice")
	if got := queued(s); len(got) != 0 {
		t.Fatalf("events %v, want none: a disconnect without its connect, or a connect after it", got)
	}
}

func TestHooksSendADisconnectOnlyAfterItsConnect(t *testing.T) {
	tests := []struct {
		name  string
		kinds []string
		want  []string
	}{
		{"all kinds", nil, []string{KindConnect, KindDisconnect}},
		{"disconnects only", []string{KindDisconnect}, []string{KindDisconnect}},
		{"connects only", []string{KindConnect}, []string{KindConnect}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSender(Options{URL: "http://127.0.0.1:1/", Node: "n"})
			h := New(s, tt.kinds, RoomsOptions{})
			var p Presence
			h.Connected(&p, "/chat", "s1", "alice")
			h.Disconnected(&p, "/chat", "s1", "alice", "transport close")
			h.Disconnected(&p, "/chat", "s1", "alice", "transport close") // once only
			if got := queued(s); len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 1 && got[1] != tt.want[1]) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			if tt.kinds != nil && h.TracksRooms() {
				t.Error("rooms are tracked though no room kind is wanted")
			}
		})
	}
}
