package engineio

import (
	"errors"
	"io"
	"net"
	"time"

	fws "github.com/fasthttp/websocket"
)

// Reasons given to Options.Refused for a WebSocket message the server
// refused: one over MaxPayload (its fragments counted together, as they
// arrive) and one not finished within MessageTimeout.
const (
	RefusedMaxPayload     = "max_payload"
	RefusedMessageTimeout = "message_timeout"
)

// messageClock gives an unfinished WebSocket message MessageTimeout from
// its first frame to its last. The read deadline is only set when the
// message has to wait for the socket (the read hook fires, or there is no
// hook): a message that arrived whole, the common case, costs nothing.
type messageClock struct {
	conn    *fws.Conn
	timeout time.Duration
	now     func() time.Time
	// Only touched on the read goroutine, in the read hook included.
	inMessage bool
	armed     bool
}

// begin marks the start of a message, its first frame header read. With
// no read hook to say when the socket is read, the deadline is set now.
func (m *messageClock) begin(hooked bool) {
	m.inMessage = true
	if !hooked {
		m.arm()
	}
}

// beforeRead runs before each read of the socket.
func (m *messageClock) beforeRead() {
	if m.inMessage && !m.armed {
		m.arm()
	}
}

func (m *messageClock) arm() {
	m.armed = true
	_ = m.conn.SetReadDeadline(m.now().Add(m.timeout))
}

// end marks the end of a message: the wait for the next one has no
// deadline (the heartbeat bounds it).
func (m *messageClock) end() {
	m.inMessage = false
	if m.armed {
		m.armed = false
		_ = m.conn.SetReadDeadline(time.Time{})
	}
}

// readAppend reads r to its end, appending to dst, and never holds more
// than limit bytes (the WebSocket's read limit already refuses a message
// that would go past it). The buffer grows by a sixteenth of what it holds
// (4 KiB at least) rather than doubling, so that what an unfinished
// message holds stays near what it sent; reading the largest message
// copies it about sixteen times over, a few milliseconds for max_payload.
func readAppend(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			grow := max(len(dst)/16, 4096)
			if limit > 0 {
				grow = max(min(grow, limit-len(dst)), 1)
			}
			grown := make([]byte, len(dst), len(dst)+grow)
			copy(grown, dst)
			dst = grown
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// reportLimit tells Options.Refused of a message refused by a limit.
func (srv *Server) reportLimit(reason string, hs *Handshake) {
	if srv.opts.Refused != nil && hs != nil {
		srv.opts.Refused(reason, hs.RemoteIP)
	}
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
