package engineio

import (
	"testing"
)

// maskedTextFrame is a client's text frame for a payload under 126 bytes
// (masked, as clients must; the all-zero key leaves the bytes as they are).
func maskedTextFrame(payload string) []byte {
	frame := []byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(frame, payload...)
}

func TestMessagesArrivingTogetherAreAllAnsweredInOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ownConns bool
	}{
		{"replies written before the next socket read", true},
		{"replies written after each message", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(true)
			ts := startServerOwning(t, tc.ownConns, Options{}, rec)
			ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
			defer ws.Close()
			readOpen(t, ws)
			rec.nextConn(t)

			// Three messages in one write, so that the server reads them
			// together, and more than its read buffer holds at once.
			var burst []byte
			want := []string{"4one", "4two", "4three", "4" + string(make([]byte, 100)), "4five"}
			for _, m := range want {
				burst = append(burst, maskedTextFrame(m)...)
			}
			if _, err := ws.UnderlyingConn().Write(burst); err != nil {
				t.Fatal(err)
			}
			for _, m := range want {
				expectText(t, ws, m)
			}
			// A lone message afterwards is answered too: nothing waits for
			// a read that does not come.
			writeText(t, ws, "4alone")
			expectText(t, ws, "4alone")
		})
	}
}
