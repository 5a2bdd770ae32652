//go:build !linux

package engineio

import (
	"errors"
	"net"
	"syscall"
)

// pollerSupported reports whether this platform has the poller read path:
// elsewhere than on Linux every WebSocket is read by a goroutine of its own.
const pollerSupported = false

var errNoPoller = errors.New("engineio: no poller on this platform")

type poller struct {
	srv    *Server
	work   workPool
	frames frameConfig
}

func newPoller(srv *Server) *poller { return nil }

func (p *poller) add(*pollConn) error { return errNoPoller }

func (p *poller) remove(*pollConn) {}

type sockReader struct{ buf []byte }

func newSockReader(size int) *sockReader { return &sockReader{buf: make([]byte, size)} }

func (r *sockReader) read(*pollConn) (int, bool, error) { return 0, false, errNoPoller }

func rawConnOf(sc syscall.Conn) (syscall.RawConn, error) { return sc.SyscallConn() }

func (pc *pollConn) backlog() int { return 0 }

// fdConn is the socket the poller owns, on Linux.
type fdConn struct{}

// takeSocket never takes a socket where there is no poller.
func (pc *pollConn) takeSocket(net.Conn) (linkConn, bool) { return nil, false }
