package engineio

import (
	"net"
	"sync/atomic"
)

// WrapListener returns ln with every accepted connection wrapped so that a
// WebSocket session learns when its read goroutine is about to read the
// socket. Wrap the listener the HTTP server accepts from innermost: other
// wrappers (TLS, the gateway's own) must offer NetConn to reach it. It
// lets the acks and other replies to messages that arrived together leave
// in one write: the read goroutine handles every message already buffered
// and writes what they queued just before it reads the socket again.
// Without it each message's replies are written after that message.
func (srv *Server) WrapListener(ln net.Listener) net.Listener {
	return &hookListener{Listener: ln}
}

type hookListener struct{ net.Listener }

// Accept implements net.Listener.
func (l *hookListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hookConn{Conn: conn}, nil
}

// hookConn runs beforeRead, when set, before each read of the connection.
// Only the goroutine that reads the connection sets, clears and runs it.
type hookConn struct {
	net.Conn
	beforeRead atomic.Pointer[func()]
}

// Read implements net.Conn.
func (c *hookConn) Read(p []byte) (int, error) {
	if f := c.beforeRead.Load(); f != nil {
		(*f)()
	}
	return c.Conn.Read(p)
}

// NetConn returns the wrapped connection.
func (c *hookConn) NetConn() net.Conn { return c.Conn }

// hookConnOf finds the hookConn under conn (the connection the WebSocket
// library reads: fasthttp's hijacked connection), or nil.
func hookConnOf(conn net.Conn) *hookConn {
	for range 4 {
		switch c := conn.(type) {
		case *hookConn:
			return c
		case interface{ UnsafeConn() net.Conn }: // fasthttp's hijacked connection
			conn = c.UnsafeConn()
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}
