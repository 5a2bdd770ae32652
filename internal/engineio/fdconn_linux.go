package engineio

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fdConn is the socket of a plain-TCP WebSocket the poller took from Go's
// net package (takeSocket): it owns the descriptor, which the poller reads
// and the flushers and writers write, without the runtime's poll
// descriptor, net's netFD with its two addresses, or the listeners'
// wrappers the net.Conn came in (about 0.9 KiB per idle connection).
//
// It keeps the one property of the runtime's fd lock the rest relies on:
// every system call on the descriptor is made under mu, shared, and Close
// takes mu exclusively to give the number back, so a call after Close (or
// racing it) fails with net.ErrClosed and never reaches another socket
// that was given the same number since.
//
// A write that the send buffer cannot take waits for writability, which
// the poller reports (EPOLLOUT), for the write deadline, for a new
// deadline or for Close, on a channel: no thread blocks in the kernel.
type fdConn struct {
	mu sync.RWMutex
	// fd is -1 once closed; guarded by mu.
	fd int32
	// closing is set by Close before it waits for mu, so that a waiting
	// writer gives up rather than holding Close up until its deadline.
	closing atomic.Bool
	// deadline is the write deadline, in Unix nanoseconds; 0 for none.
	deadline atomic.Int64
	// waits is made when a write first has to wait: most sockets never do.
	waits atomic.Pointer[writeWaits]
	// release gives back what the listeners' wrappers held for the
	// connection (its address's place under max_tcp_connections_per_ip),
	// when the socket is closed.
	release func()
}

// writeWaits wakes the writers waiting for a socket to take more bytes.
type writeWaits struct {
	// seq counts the wake-ups: a writer that read it before its write
	// met EAGAIN and sees it changed does not wait, the wake-up having
	// come in between.
	seq atomic.Uint64
	mu  sync.Mutex
	// ch is closed by the next wake-up; nil while no writer waits.
	ch chan struct{}
}

// take makes c, unused so far, own the descriptor of conn's socket,
// taken from Go's net package when every wrapper of conn is one this package knows: fasthttp's
// hijacked connection (which reads the socket directly by then, see
// readsSocket), WrapListener's, one offering DetachSocket (the gateway's,
// holding the address's place under its per-address limit) and
// *net.TCPConn at the bottom. The descriptor is duplicated and the
// net.Conn closed, which gives its poll descriptor back to the runtime;
// the socket stays open through the duplicate. It reports false, leaving
// conn as it was, for anything else (TLS, a wrapper it does not know).
func (c *fdConn) take(conn net.Conn) bool {
	tcp, detachers, ok := plainSocketOf(conn)
	if !ok {
		return false
	}
	fd, err := dupSocket(tcp)
	if err != nil {
		return false
	}
	c.fd = int32(fd)
	c.adopt(tcp, detachers)
	return true
}

// socketDetacher is a listener's wrapper whose Close does more than
// closing the connection under it: DetachSocket makes its Close leave
// that undone, and returns what it would have done, to run once when the
// socket is closed.
type socketDetacher interface {
	DetachSocket() (release func())
}

// plainSocketOf walks the wrappers of conn down to its *net.TCPConn, and
// reports false when it meets one it does not know.
func plainSocketOf(conn net.Conn) (*net.TCPConn, []socketDetacher, bool) {
	var detachers []socketDetacher
	for range 8 {
		switch c := conn.(type) {
		case *net.TCPConn:
			return c, detachers, true
		case *hookConn:
			conn = c.Conn
		case interface{ UnsafeConn() net.Conn }:
			if !readsSocket(conn) {
				return nil, nil, false
			}
			conn = c.UnsafeConn()
		case interface {
			socketDetacher
			NetConn() net.Conn
		}:
			detachers = append(detachers, c)
			conn = c.NetConn()
		default:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// dupSocket duplicates tcp's descriptor (close-on-exec, non-blocking).
func dupSocket(tcp *net.TCPConn) (int, error) {
	rc, err := tcp.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("take socket: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("take socket: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("take socket: dup: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("take socket: %w", err)
	}
	return fd, nil
}

// adopt detaches the wrappers of the socket c now owns and closes tcp,
// whose descriptor c duplicated.
func (c *fdConn) adopt(tcp *net.TCPConn, detachers []socketDetacher) {
	var releases []func()
	for _, d := range detachers {
		if r := d.DetachSocket(); r != nil {
			releases = append(releases, r)
		}
	}
	switch len(releases) {
	case 0:
	case 1:
		c.release = releases[0]
	default:
		c.release = func() {
			for _, r := range releases {
				r()
			}
		}
	}
	_ = tcp.Close()
}

// rawCall runs f once with the descriptor, under the shared lock; the
// poller's reads and the flushers' writes are non-blocking and never
// wait here, and the write deadline, which bounds waiting, does not apply.
func (c *fdConn) rawCall(f func(fd uintptr) bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(c.fd))
	return nil
}

// Control runs f with the descriptor, under the shared lock.
func (c *fdConn) Control(f func(fd uintptr)) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(c.fd))
	return nil
}

// Write writes b whole, waiting for the socket to take it until the write
// deadline, as net.Conn's Write does.
func (c *fdConn) Write(b []byte) (int, error) {
	written := 0
	for {
		if c.closing.Load() {
			return written, net.ErrClosed
		}
		if d := c.deadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			return written, os.ErrDeadlineExceeded
		}
		w := c.waits.Load()
		var seq uint64
		if w != nil {
			seq = w.seq.Load()
		}
		n, err := c.writeOnce(b[written:])
		written += n
		switch {
		case written == len(b):
			return written, nil
		case err == nil:
			// A short write: the next one takes more or meets EAGAIN,
			// after which the kernel reports the socket writable.
			continue
		case err != unix.EAGAIN:
			return written, err
		}
		if w == nil {
			// Made before the next attempt, so that a wake-up after
			// it is not missed.
			c.waits.CompareAndSwap(nil, new(writeWaits))
			continue
		}
		w.wait(seq, c.deadline.Load())
	}
}

// writeOnce is one non-blocking write under the shared lock.
func (c *fdConn) writeOnce(b []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return 0, net.ErrClosed
	}
	for {
		n, err := unix.Write(int(c.fd), b)
		if err == unix.EINTR {
			continue
		}
		if err != nil && err != unix.EAGAIN {
			return max(n, 0), &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)}
		}
		return max(n, 0), err
	}
}

// wait returns once a wake-up came after seq was read, or at deadline
// (Unix nanoseconds, 0 for none).
func (w *writeWaits) wait(seq uint64, deadline int64) {
	w.mu.Lock()
	if w.seq.Load() != seq {
		w.mu.Unlock()
		return
	}
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	ch := w.ch
	w.mu.Unlock()
	if deadline == 0 {
		<-ch
		return
	}
	t := time.NewTimer(time.Until(time.Unix(0, deadline)))
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// wakeWriters wakes the writers waiting for the socket, if any: the
// poller calls it when epoll reports it writable (or failed).
func (c *fdConn) wakeWriters() {
	w := c.waits.Load()
	if w == nil {
		return
	}
	w.seq.Add(1)
	w.mu.Lock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// SetWriteDeadline sets the deadline of the writes that wait, and wakes
// those waiting to see it: one set to now fails them at once (a slow
// consumer closed).
func (c *fdConn) SetWriteDeadline(t time.Time) error {
	var d int64
	if !t.IsZero() {
		d = max(t.UnixNano(), 1)
	}
	c.deadline.Store(d)
	c.wakeWriters()
	return nil
}

// writeDeadlinePassed reports whether the write deadline is set and past.
func (c *fdConn) writeDeadlinePassed() bool {
	d := c.deadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// Close closes the socket once: waiting writers fail, calls in progress
// end first, and later ones fail with net.ErrClosed. Closing the only
// descriptor of the socket also takes it out of the poller's epoll
// instance, which the poller does first anyway (wsLink.closeConn).
func (c *fdConn) Close() error {
	if c.closing.Swap(true) {
		return net.ErrClosed
	}
	c.wakeWriters()
	c.mu.Lock()
	fd := c.fd
	c.fd = -1
	c.mu.Unlock()
	if fd < 0 {
		return net.ErrClosed
	}
	err := unix.Close(int(fd))
	if c.release != nil {
		c.release()
	}
	if err != nil {
		return fmt.Errorf("close socket: %w", err)
	}
	return nil
}

// takeSocket makes pc own the socket under conn when it can (see take),
// and returns it.
func (pc *pollConn) takeSocket(conn net.Conn) (linkConn, bool) {
	if !pc.sock.take(conn) {
		return nil, false
	}
	return &pc.sock, true
}
