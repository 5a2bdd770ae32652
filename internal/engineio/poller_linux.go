package engineio

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollerSupported reports whether this platform has the poller read path.
const pollerSupported = true

// poller tells which WebSockets have bytes to read, from one epoll
// instance, and reads them on a bounded pool of goroutines started as
// work comes and ended when it is done: an idle WebSocket holds neither a
// goroutine nor a read buffer. The epoll instance and its goroutine exist
// while at least one connection is registered, so a server with no
// WebSocket (or one shut down) leaves nothing running.
//
// A plain-TCP connection's socket is the poller's own from the hand-off
// on (fdConn): Go's net package lets it go, with its poll descriptor, and
// the poller reports writability too (EPOLLOUT) to a writer waiting for a
// client behind on reading. Every call on it is made under the fdConn's
// lock, so a connection closed meanwhile fails the call instead of
// reaching another socket that took its number. A connection under
// wrappers the poller does not know stays the runtime's: only its reads
// are taken over, one non-blocking read at a time under the runtime's fd
// lock (syscall.RawConn), and writes go through its net.Conn.
type poller struct {
	srv *Server

	mu    sync.Mutex
	ep    *epoll
	conns map[uint64]*pollConn
	// keys numbers the registrations; epoll reports a connection by its
	// key, never by its descriptor, which a closed socket gives back to the
	// kernel for reuse.
	keys uint64

	work   workPool
	frames frameConfig
}

// epoll is one epoll instance, with the eventfd that ends its loop.
type epoll struct {
	fd, wake int
	stop     bool // guarded by poller.mu
}

// wakeKey is the key of the eventfd; connections are numbered from 1.
const wakeKey = 0

func newPoller(srv *Server) *poller {
	p := &poller{srv: srv, conns: make(map[uint64]*pollConn),
		frames: frameConfig{maxPayload: srv.opts.MaxPayload, buffers: &srv.buffers}}
	p.work = workPool{max: maxReadWorkers, keep: idleReadWorkers, spread: runtime.GOMAXPROCS(0),
		run: p.run, alive: &srv.alive, released: true}
	return p
}

// add registers pc's socket, whose descriptor the runtime holds open for
// the call, so that it cannot be another socket's by then.
func (p *poller) add(pc *pollConn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ep == nil {
		ep, err := openEpoll()
		if err != nil {
			return err
		}
		p.ep = ep
		p.work.hold()
		p.srv.alive.add()
		go p.loop(ep)
	}
	p.keys++
	key := p.keys
	var ctlErr error
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET)
	if pc.rc == nil {
		// Its writers wait for writability here, as the runtime's do in
		// its own epoll instance.
		events |= unix.EPOLLOUT
	}
	err := pc.control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: events}
		setKey(&ev, key)
		ctlErr = unix.EpollCtl(p.ep.fd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		p.stopIfIdleLocked()
		return fmt.Errorf("epoll add: %w", err)
	}
	pc.key = key
	p.conns[key] = pc
	return nil
}

// remove unregisters pc, once. A socket already closed was unregistered
// by the kernel when it was closed, as was every socket when epoll failed
// (failAll).
func (p *poller) remove(pc *pollConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc.key == 0 {
		return
	}
	delete(p.conns, pc.key)
	pc.key = 0
	ep := p.ep
	if ep == nil {
		return
	}
	_ = pc.control(func(fd uintptr) {
		_ = unix.EpollCtl(ep.fd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	p.stopIfIdleLocked()
}

// stopIfIdleLocked ends the epoll loop when no connection is left.
func (p *poller) stopIfIdleLocked() {
	if len(p.conns) > 0 || p.ep == nil {
		return
	}
	p.ep.stop = true
	one := [8]byte{1}
	_, _ = unix.Write(p.ep.wake, one[:])
	p.ep = nil
}

func openEpoll() (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setKey(&ev, wakeKey)
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(fd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("epoll add eventfd: %w", err)
	}
	return &epoll{fd: fd, wake: wake}, nil
}

// loop waits for readiness and hands each ready connection to the pool,
// until its epoll instance is stopped; the pool's waiting workers end with
// it, unless another loop has begun.
func (p *poller) loop(ep *epoll) {
	defer p.srv.alive.done()
	w := newEpollWaiter(ep.fd)
	defer func() {
		w.close()
		_ = unix.Close(ep.wake)
		p.mu.Lock()
		if p.ep == nil {
			p.work.release()
		}
		p.mu.Unlock()
	}()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := w.wait(events)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.srv.log.Error("engineio poller stopped", "err", err)
			p.failAll()
			return
		}
		for i := range events[:n] {
			key := getKey(&events[i])
			if key == wakeKey {
				var b [8]byte
				_, _ = unix.Read(ep.wake, b[:])
				p.mu.Lock()
				stop := ep.stop
				p.mu.Unlock()
				if stop {
					return
				}
				continue
			}
			p.mu.Lock()
			pc := p.conns[key]
			p.mu.Unlock()
			if pc == nil {
				continue
			}
			ev := events[i].Events
			if pc.rc == nil && ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				pc.sock.wakeWriters()
			}
			if ev&^unix.EPOLLOUT == 0 {
				// Only writable: nothing to read.
				continue
			}
			if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				// Edge-triggered, this is the only word of the end of
				// the stream: it may come with the last bytes, which one
				// short read takes, leaving the end unread.
				pc.flags.Or(pcHangup)
			}
			p.ready(pc)
		}
	}
}

// epollWaiter waits for an epoll instance's events in Go's own netpoller
// rather than in a blocking epoll_wait: an epoll descriptor is itself
// pollable. Blocked in the system call, the loop's thread kept its
// processor while the worker it had just started waited in that
// processor's run queue until the runtime woke another thread to take it
// (tens of microseconds on every event at moderate load); parked in the
// netpoller, the loop leaves its processor to that worker at once.
type epollWaiter struct {
	fd   int
	file *os.File
	// rc is nil when the runtime cannot poll the descriptor: the waiter
	// then blocks its thread in epoll_wait.
	rc syscall.RawConn
	// events, n and err are poll's, made once rather than per wait.
	events []unix.EpollEvent
	n      int
	err    error
	call   func(fd uintptr) bool
}

func newEpollWaiter(fd int) *epollWaiter {
	w := &epollWaiter{fd: fd}
	w.call = w.poll
	if err := unix.SetNonblock(fd, true); err != nil {
		return w
	}
	// The file owns fd from here on: its Close closes it.
	w.file = os.NewFile(uintptr(fd), "epoll")
	if rc, err := w.file.SyscallConn(); err == nil {
		w.rc = rc
	}
	return w
}

// wait returns the next events, at least one unless err is set.
func (w *epollWaiter) wait(events []unix.EpollEvent) (n int, err error) {
	if w.rc == nil {
		return unix.EpollWait(w.fd, events, -1)
	}
	w.events = events
	rerr := w.rc.Read(w.call)
	n, err, w.events = w.n, w.err, nil
	if rerr != nil {
		// The runtime does not poll this descriptor after all: wait in
		// the system call, which ignores the descriptor's non-blocking
		// mode.
		w.rc = nil
		return unix.EpollWait(w.fd, events, -1)
	}
	return n, err
}

// poll takes the events ready now, and reports whether there were any.
func (w *epollWaiter) poll(fd uintptr) bool {
	w.n, w.err = unix.EpollWait(int(fd), w.events, 0)
	return w.err != nil || w.n > 0
}

func (w *epollWaiter) close() {
	if w.file != nil {
		_ = w.file.Close()
		return
	}
	_ = unix.Close(w.fd)
}

// failAll ends every registered connection, when epoll itself failed.
func (p *poller) failAll() {
	p.mu.Lock()
	conns := make([]*pollConn, 0, len(p.conns))
	for _, pc := range p.conns {
		conns = append(conns, pc)
	}
	p.ep = nil
	p.mu.Unlock()
	for _, pc := range conns {
		pc.link.closeConn()
	}
}

func setKey(ev *unix.EpollEvent, key uint64) {
	ev.Fd = int32(uint32(key))
	ev.Pad = int32(uint32(key >> 32))
}

func getKey(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// sockReader makes non-blocking reads into one buffer, a worker's: its
// function for the socket's lock (fdConn's, or the runtime's fd lock) is
// made once with the buffer rather than once per read.
type sockReader struct {
	buf []byte
	// n and err are the last read's.
	n    int
	err  error
	call func(fd uintptr) bool
}

func newSockReader(size int) *sockReader {
	r := &sockReader{buf: make([]byte, size)}
	r.call = r.readFD
	return r
}

func (r *sockReader) readFD(fd uintptr) bool {
	for {
		r.n, r.err = unix.Read(int(fd), r.buf)
		if r.err != unix.EINTR {
			return true
		}
	}
}

// read reads what pc's socket holds into r.buf with one non-blocking
// call. It reports wouldBlock when there was nothing to read.
func (r *sockReader) read(pc *pollConn) (n int, wouldBlock bool, err error) {
	cerr := pc.rawRead(r.call)
	n, rerr := r.n, r.err
	r.n, r.err = 0, nil
	if cerr != nil {
		return 0, false, cerr
	}
	if rerr == unix.EAGAIN {
		return 0, true, nil
	}
	if rerr != nil {
		return 0, false, rerr
	}
	return n, false, nil
}

// rawConnOf is the syscall.RawConn of the socket under a connection.
func rawConnOf(sc syscall.Conn) (syscall.RawConn, error) {
	return sc.SyscallConn()
}

// backlog is how many bytes the socket's send buffer holds, not yet
// acknowledged by the peer (SIOCOUTQ); 0 when it cannot tell.
func (pc *pollConn) backlog() int {
	var n int
	err := pc.control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	})
	if err != nil {
		return 0
	}
	return n
}

// control runs f with pc's descriptor, which stays its socket's for the
// call.
func (pc *pollConn) control(f func(fd uintptr)) error {
	if pc.rc == nil {
		return pc.sock.Control(f)
	}
	return (*pc.rc).Control(f)
}

// rawRead runs f, a non-blocking read, once with pc's descriptor:
// through the fdConn when the poller owns the socket, else under the
// runtime's fd lock.
func (pc *pollConn) rawRead(f func(fd uintptr) bool) error {
	if pc.rc == nil {
		return pc.sock.rawCall(f)
	}
	return (*pc.rc).Read(f)
}

// rawWrite is rawRead for a non-blocking write.
func (pc *pollConn) rawWrite(f func(fd uintptr) bool) error {
	if pc.rc == nil {
		return pc.sock.rawCall(f)
	}
	return (*pc.rc).Write(f)
}
