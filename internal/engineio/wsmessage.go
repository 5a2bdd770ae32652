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

// messageChunk is the size of the pieces a message longer than its pooled
// buffer is gathered in.
const messageChunk = 16 << 10

// readAppend reads r to its end, appending to dst. What does not fit in
// dst's capacity is gathered in pieces of messageChunk bytes, put together
// once the message is complete: an unfinished message holds about what it
// sent, and its reading leaves no garbage behind (a buffer doubled or
// grown by copies would make the process hold up to twice that, in its
// buffer or in the garbage the collector lets pile up). The WebSocket's
// read limit refuses a message past MaxPayload before its bytes are read.
func readAppend(dst []byte, r io.Reader) ([]byte, error) {
	for len(dst) < cap(dst) {
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
	var chunks [][]byte
	size := len(dst)
	for {
		chunk := make([]byte, 0, messageChunk)
		var err error
		for len(chunk) < cap(chunk) && err == nil {
			var n int
			n, err = r.Read(chunk[len(chunk):cap(chunk)])
			chunk = chunk[:len(chunk)+n]
		}
		chunks = append(chunks, chunk)
		size += len(chunk)
		if err == io.EOF {
			return joinChunks(dst, chunks, size), nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// joinChunks returns dst followed by chunks, size bytes in all.
func joinChunks(dst []byte, chunks [][]byte, size int) []byte {
	out := make([]byte, size)
	n := copy(out, dst)
	for _, c := range chunks {
		n += copy(out[n:], c)
	}
	return out
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
