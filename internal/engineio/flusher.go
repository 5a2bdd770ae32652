package engineio

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// flushPool writes the queues of polled WebSockets woken from elsewhere
// than their reader (a broadcast, the heartbeat), on a few goroutines
// instead of one started per woken socket. A broadcast to a thousand
// sockets thus costs a thousand entries in a queue and a goroutine or two,
// not a thousand goroutines started and scheduled twice each (flushWoken).
//
// The flushers take the sockets in the order they were woken and write
// each one's queue with one non-blocking write; a socket whose queue grew
// meanwhile goes to the back of the queue rather than being written again
// at once. Under load the queue is longer than a broadcast's interval, so
// every socket's turn finds the broadcasts queued since its last turn and
// writes them with one call; when the flushers keep up, a packet leaves as
// soon as a flusher reaches it.
//
// A flusher never waits for a client: a write that the socket's send
// buffer cannot take whole hands what is left of the batch to a writer
// goroutine of that socket's own (flushFrom), which waits for it within
// the write timeout, as a writer of the goroutine read path does, while
// the socket's session keeps link.writing set, so nothing else writes to
// it meanwhile and its packets keep their order. A closing session is
// handed to such a writer too, for its close packet and close frame.
type flushPool struct {
	mu      sync.Mutex
	queue   fifo[flushEntry]
	workers int
	max     int
	alive   *tracker
	buffers *bufferPool
	// handedOver counts the batches a flusher left to a writer goroutine.
	handedOver atomic.Uint64
}

// rawWrite is a flusher's non-blocking write through a socket's
// syscall.RawConn. Its callback is made once per flusher rather than as a
// closure per write, which would be allocated on every call.
type rawWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func newRawWrite() *rawWrite {
	w := new(rawWrite)
	w.fn = w.write
	return w
}

// flushEntry is a session whose link a flusher is to write.
type flushEntry struct {
	s    *session
	link *wsLink
}

// newFlushPool sizes the pool at half the processors. The flushers leave
// the other half to the read side, where the broadcasts come from; and the
// further the flushers lag behind the broadcasts, the more packets each
// write carries: on 2 CPUs, with a thousand sockets and 8 broadcasts in
// flight, one flusher wrote 10 packets per write call and two 7, for
// 2.0 µs of CPU per delivery against 2.5, and delivered more per second.
func newFlushPool(alive *tracker, buffers *bufferPool) *flushPool {
	return &flushPool{max: max(1, runtime.GOMAXPROCS(0)/2), alive: alive, buffers: buffers}
}

// submit queues link's session for a flusher, starting one when fewer
// than max run. The caller has set link.writing.
func (f *flushPool) submit(s *session, link *wsLink) {
	f.mu.Lock()
	f.queue.push(flushEntry{s, link})
	start := f.workers < f.max
	if start {
		f.workers++
	}
	f.mu.Unlock()
	if start {
		f.alive.add()
		go f.loop()
	}
}

// loop is a flusher: it writes the queued sessions until none is left.
func (f *flushPool) loop() {
	defer f.alive.done()
	buf, w := f.buffers.get(), newRawWrite()
	defer func() { f.buffers.put(buf) }()
	for {
		f.mu.Lock()
		e, ok := f.queue.pop()
		if !ok {
			f.workers--
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if e.s.flushTurn(e.link, buf, w) {
			f.submit(e.s, e.link)
		}
		if cap(buf.B) > maxPooledBuffer {
			buf.B = nil
		}
	}
}

// flushTurn is one flusher's turn with link: it writes what is queued
// with non-blocking writes, and reports whether more was queued meanwhile
// (link.writing stays set, and the session goes to the back of the
// pool's queue). A write the socket does not take whole, and a closing
// session, go on on a writer goroutine of their own.
func (s *session) flushTurn(link *wsLink, buf *buffer, w *rawWrite) (again bool) {
	pc := link.pc.Load()
	s.mu.Lock()
	if !s.hasWorkLocked() || link.closed || link.isRetired() {
		link.writing = false
		s.writerChangedLocked(link)
		s.mu.Unlock()
		return false
	}
	if s.state() != stateOpen || pc == nil {
		s.mu.Unlock()
		s.srv.goTracked(func() { s.flushWebSocket(link) })
		return false
	}
	batch := s.takeBatchLocked(link)
	s.mu.Unlock()

	buf.B = buf.B[:0]
	cleared := false
	for i, p := range batch {
		buf.B = appendFrame(buf.B, p)
		if len(buf.B) < maxWriteBatch && i < len(batch)-1 {
			continue
		}
		n, err := pc.writeNow(w, buf.B)
		if err != nil && !cleared && errors.Is(err, os.ErrDeadlineExceeded) && s.state() == stateOpen {
			// The deadline of the link's last blocking write, passed
			// while the socket was idle: a non-blocking write needs none.
			// Left standing, it would fail every flusher write to a
			// socket idle for longer than the write timeout, and hand
			// each to a writer goroutine. Every blocking writer sets a
			// deadline of its own, and none writes while this turn holds
			// the link (link.writing); a deadline set to end a closing
			// session's write (Send) is kept, the state being checked
			// first, and a writer that takes over sets its own.
			cleared = true
			_ = link.raw.SetWriteDeadline(time.Time{})
			n, _ = pc.writeNow(w, buf.B)
		}
		if n == len(buf.B) {
			buf.B = buf.B[:0]
			continue
		}
		// The client is behind (or the socket failed): a writer of its
		// own waits for it, starting with the bytes the socket did not
		// take.
		rest := append([]byte(nil), buf.B[n:]...)
		s.srv.flush.handedOver.Add(1)
		s.srv.goTracked(func() { s.flushFrom(link, rest, batch, i+1) })
		return false
	}
	return s.batchWritten(link, batch, true)
}
