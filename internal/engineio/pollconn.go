package engineio

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	fws "github.com/fasthttp/websocket"
)

// maxReadWorkers bounds the goroutines reading WebSockets at once. They
// run only while connections have bytes to read; a handler that takes
// its time holds one of them, never the others' reads.
const maxReadWorkers = 1024

// readTurn is how many bytes a worker reads from one connection before
// the other ready connections get their turn.
const readTurn = 64 << 10

// pollReadBuffer is each worker's read buffer: the connections share the
// workers' buffers instead of holding one each.
const pollReadBuffer = 16 << 10

// The states of a connection's read turn: no worker has it, a worker
// has it, or a worker has it and more was reported meanwhile.
const (
	turnIdle int32 = iota
	turnRunning
	turnAgain
)

// Reasons a polled connection stops being read, besides read errors.
var (
	errMessageTimeout = errors.New("websocket: message not finished within the message timeout")
	// errSessionEnded: a packet ended the session, or another WebSocket
	// took it over; nothing more is read for it.
	errSessionEnded = errors.New("engineio: session ended by the client's packet")
	errPanicked     = errors.New("engineio: the listener panicked")
)

// clientClose is the client's close frame; reply is the close frame
// payload that answers it.
type clientClose struct{ reply []byte }

func (*clientClose) Error() string { return "websocket: close frame from the client" }

// pollConn is a WebSocket whose reads the poller does. Only the worker
// that has its read turn touches the fields below parser, so one
// connection's messages are decoded and handed over in order, one at a
// time.
type pollConn struct {
	s    *session
	link *wsLink
	// sock is the socket, when the poller took it from Go's net package
	// (a plain-TCP connection whose wrappers it knows, see fdConn); else
	// rc reaches the socket the runtime keeps, under its fd lock (nil when
	// sock is the socket).
	sock fdConn
	rc   *syscall.RawConn
	// key is its registration with the poller; guarded by poller.mu.
	key  uint64
	turn atomic.Int32
	// flags holds pcDone, pcHangup and pcReading.
	flags atomic.Uint32
	// timedOut is the clockGen of the message clock that fired.
	timedOut atomic.Uint32
	clockGen uint32

	parser frameParser
	// pending holds what the WebSocket library had read past the last
	// message before the hand-over; it is read before the socket.
	pending *[]byte
	timer   *time.Timer
}

// The flags of a pollConn.
const (
	// pcDone is set once the connection is no longer read.
	pcDone uint32 = 1 << iota
	// pcHangup is set, before its read turn is asked for, when epoll said
	// the peer ended its stream or the socket failed: a turn then reads
	// on past a short read, to the end or the error.
	pcHangup
	// pcReading is set while the worker hands this turn's messages over:
	// their replies leave in one write at the end of the turn. Only the
	// worker with the read turn sets or clears it.
	pcReading
)

func (pc *pollConn) isDone() bool { return pc.flags.Load()&pcDone != 0 }

// poller is the poller that reads pc.
func (pc *pollConn) poller() *poller { return pc.s.srv.poll }

// ready gives pc a read turn, or tells the worker that has it to read
// again before letting it go.
func (p *poller) ready(pc *pollConn) {
	for {
		switch pc.turn.Load() {
		case turnIdle:
			if pc.turn.CompareAndSwap(turnIdle, turnRunning) {
				p.work.submit(pc)
				return
			}
		case turnRunning:
			if pc.turn.CompareAndSwap(turnRunning, turnAgain) {
				return
			}
		default:
			return
		}
	}
}

// run is one read turn of pc on a worker. A panic in the session's
// listener ends that connection, as it ends the read goroutine of the
// goroutine read path, and leaves the worker to the others.
func (p *poller) run(pc *pollConn, r *sockReader) {
	defer func() {
		if r := recover(); r != nil {
			p.srv.log.Error("engineio websocket panic", "panic", r, "stack", string(debug.Stack()))
			if !pc.isDone() {
				pc.end(errPanicked)
			}
		}
	}()
	for {
		pc.turn.Store(turnRunning)
		if pc.serve(r) {
			// More to read: after the other ready connections.
			p.work.submit(pc)
			return
		}
		if pc.turn.CompareAndSwap(turnRunning, turnIdle) {
			return
		}
	}
}

// serve reads what the socket holds and hands it to the session, then
// writes what the messages queued (their acks) in one go. It reports
// whether the connection has more to read after its turn.
func (pc *pollConn) serve(r *sockReader) (more bool) {
	if pc.isDone() {
		return false
	}
	if pc.timer != nil && pc.timedOut.Load() == pc.clockGen {
		pc.endTurn()
		pc.end(errMessageTimeout)
		return false
	}
	if b := pc.pending; b != nil {
		pc.pending = nil
		if err := pc.consume(*b); err != nil {
			pc.endTurn()
			pc.end(err)
			return false
		}
	}
	total := 0
	for {
		n, wouldBlock, err := r.read(pc)
		if n > 0 {
			total += n
			if err := pc.consume(r.buf[:n]); err != nil {
				pc.endTurn()
				pc.end(err)
				return false
			}
		}
		switch {
		case wouldBlock:
		case err != nil:
			pc.endTurn()
			pc.end(err)
			return false
		case n == 0:
			pc.endTurn()
			pc.end(io.EOF)
			return false
		case n == len(r.buf) && total < readTurn:
			continue
		case n == len(r.buf):
			more = true
		case pc.flags.Load()&pcHangup != 0:
			// The end of the stream came with these bytes: epoll will
			// not report it again.
			continue
		}
		// A short read emptied the socket: epoll reports what comes next.
		break
	}
	pc.endTurn()
	pc.clock()
	return more
}

// consume decodes b and hands each complete message to the session.
func (pc *pollConn) consume(b []byte) error {
	for len(b) > 0 {
		ev, n, err := pc.parser.next(b)
		b = b[n:]
		if err != nil {
			return err
		}
		if err := pc.handle(ev); err != nil {
			return err
		}
	}
	return nil
}

// handle acts on one decoded message or control frame.
func (pc *pollConn) handle(ev frameEvent) error {
	s, link := pc.s, pc.link
	switch ev.kind {
	case frameNone, framePong:
		return nil
	case frameClose:
		reply, err := closeReply(ev.data)
		if err != nil {
			return err
		}
		return &clientClose{reply: reply}
	case framePing:
		pc.beginTurn()
		s.mu.Lock()
		if !link.pongQueued {
			// Answering the latest ping only bounds what a ping flood
			// queues (RFC 6455 section 5.5.3 allows it).
			link.pongQueued = true
			s.queue = append(s.queue, packet{typ: packetWSPong, data: append([]byte(nil), ev.data...)})
		}
		s.mu.Unlock()
		return nil
	}
	if link.isRetired() {
		return errSessionEnded
	}
	pc.beginTurn()
	keep := true
	if ev.binary {
		s.deliver(Message{Data: ev.data, Binary: true})
	} else if p, err := decodePacket(ev.data); err != nil {
		s.closeWith("parse error", closeAbort)
		keep = false
	} else {
		keep = s.receive(p)
	}
	pc.parser.done()
	if !keep {
		return errSessionEnded
	}
	return nil
}

// beginTurn marks the worker as handing messages over: what they queue
// waits for the end of the turn.
func (pc *pollConn) beginTurn() {
	if pc.flags.Load()&pcReading != 0 {
		return
	}
	pc.flags.Or(pcReading)
	pc.s.mu.Lock()
	pc.link.reading = true
	pc.s.mu.Unlock()
}

// slowWriteBacklog is how many bytes waiting in a socket's send buffer
// make the poller leave the write of a turn's replies to a writer
// goroutine: a client that far behind may not read at all, and its write
// would hold the worker up to the write timeout.
const slowWriteBacklog = 64 << 10

// endTurn writes what this turn's messages queued: on the worker, in one
// write with what the turn read, unless the client is behind on reading.
func (pc *pollConn) endTurn() {
	if pc.flags.Load()&pcReading == 0 {
		return
	}
	pc.flags.And(^pcReading)
	s, link := pc.s, pc.link
	if pc.backlog() >= slowWriteBacklog {
		s.mu.Lock()
		link.reading = false
		s.wakeWriterLocked(link)
		s.mu.Unlock()
		return
	}
	s.doneReading(link)
}

// clock gives an unfinished frame or message MessageTimeout from the
// first time it had to wait for the socket, as the goroutine read path
// does; a message that arrived whole costs nothing.
func (pc *pollConn) clock() {
	if !pc.parser.partial() {
		pc.stopClock()
		return
	}
	if pc.timer != nil {
		return
	}
	pc.clockGen++
	gen := pc.clockGen
	pc.timer = time.AfterFunc(pc.s.srv.opts.MessageTimeout, func() {
		pc.timedOut.Store(gen)
		pc.poller().ready(pc)
	})
}

func (pc *pollConn) stopClock() {
	if pc.timer != nil {
		pc.timer.Stop()
		pc.timer = nil
	}
}

// end stops reading pc after err and ends its session's use of it: the
// session is closed as err says, and the rest (waiting for its writer,
// the close frame, closing the socket) goes on off the worker.
func (pc *pollConn) end(err error) {
	pc.flags.Or(pcDone)
	pc.stopClock()
	pc.parser.release()
	pc.pending = nil
	// The connection stays registered until closeConn: a writer sending
	// the close frame may wait for the socket to be writable, which the
	// poller reports.
	s, link := pc.s, pc.link
	s.closeOnPollError(link, err)
	s.srv.goTracked(func() {
		s.stopLink(link)
		link.closeConn()
	})
}

// closeOnPollError closes the session after its polled connection failed
// or the client's frames ended it, with the close frame and reason the
// goroutine read path gives for the same cause.
func (s *session) closeOnPollError(link *wsLink, err error) {
	if link.isRetired() {
		return
	}
	var fe *frameError
	var cc *clientClose
	switch {
	case errors.Is(err, errSessionEnded):
	case err == errMessageTooBig:
		s.srv.reportLimit(RefusedMaxPayload, &s.handshake)
		s.setCloseFrame(link, fws.FormatCloseMessage(fws.CloseMessageTooBig, ""))
		s.closeWith("transport error", closeAbort)
	case errors.Is(err, errMessageTimeout):
		if s.state() == stateOpen {
			s.srv.reportLimit(RefusedMessageTimeout, &s.handshake)
		}
		s.setCloseFrame(link, fws.FormatCloseMessage(fws.ClosePolicyViolation, "message not finished within the message timeout"))
		s.closeWith("transport error", closeByPeer)
	case errors.As(err, &fe):
		s.setCloseFrame(link, fws.FormatCloseMessage(fe.code, fe.text))
		s.closeWith("transport close", closeByPeer)
	case errors.As(err, &cc):
		s.setCloseFrame(link, cc.reply)
		s.closeWith("transport close", closeByPeer)
	default:
		s.closeWith("transport close", closeByPeer)
	}
}

// setCloseFrame makes payload the close frame the writer sends before it
// closes link, unless one is set already.
func (s *session) setCloseFrame(link *wsLink, payload []byte) {
	s.mu.Lock()
	if link.closeFrame == nil {
		frame := appendControlFrame(nil, opClose, payload)
		link.closeFrame = &frame
	}
	s.mu.Unlock()
}

// handOff hands the reading of link to the poller, after the WebSocket
// library (conn) read the session's first messages. It reports false,
// the connection staying with its goroutine, when the poller is off or
// cannot read this connection: TLS, a connection it does not see the
// socket of, or bytes buffered where it cannot reach them. A plain-TCP
// socket under wrappers it knows is taken from Go's net package on the
// way (fdConn); under others, it stays the runtime's and only its reads
// are the poller's.
func (s *session) handOff(link *wsLink, conn *fws.Conn) bool {
	srv := s.srv
	if srv.poll == nil || !srv.ownsConns {
		return false
	}
	pending, ok := bufferedBytes(conn)
	if !ok {
		return false
	}
	// The connection the WebSocket library reads, not link.raw: whether
	// fasthttp's wrapper still reads through the request's buffer is seen
	// on the wrapper (readsSocket).
	under := conn.UnderlyingConn()
	sc := socketOf(under)
	if sc == nil {
		return false
	}
	rc, err := rawConnOf(sc)
	if err != nil {
		return false
	}
	// What the client sent behind its upgrade request and the WebSocket
	// library has not read yet comes after what it has (left in place
	// should the poller not take the connection).
	if pr := pipelinedOf(under); pr != nil && len(pr.pending) > 0 {
		pending = append(pending, pr.pending...)
	}
	// No write may be in progress while the socket changes hands.
	if !s.holdWriter(link) {
		return false
	}
	defer s.releaseWriter(link)
	pc := s.newPollConn(link)
	pc.s, pc.link = s, link
	pc.parser = frameParser{cfg: &srv.poll.frames}
	sock, taken := pc.takeSocket(under)
	if !taken {
		pc.rc = &rc
		// A deadline left from the upgrade would fail the poller's reads.
		setReadDeadline(link.raw, time.Time{})
	}
	if pending != nil {
		pc.pending = &pending
	}
	link.setDetached(true)
	if err := srv.poll.add(pc); err != nil {
		link.setDetached(false)
		srv.log.Debug("engineio websocket stays on its goroutine", "sid", s.id, "err", err)
		if taken {
			// The net.Conn the goroutine would read is closed: its read
			// fails and ends the session.
			_ = sock.Close()
		}
		return false
	}
	if taken {
		s.mu.Lock() // for Send, which reads link.raw under it
		link.raw = sock
		s.mu.Unlock()
	}
	// From here on nothing reads conn: the WebSocket library's connection
	// and its buffer are let go.
	link.conn = nil
	link.pc.Store(pc)
	// Bytes that came before the registration, and a close meanwhile,
	// are seen by a first turn.
	srv.poll.ready(pc)
	return true
}

// holdWriter waits for link's writer to finish and keeps the link's
// writes for the caller (link.writing), until releaseWriter; it reports
// false when the link is closed.
func (s *session) holdWriter(link *wsLink) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for link.writing {
		s.waitWriterLocked(link)
	}
	if link.closed {
		return false
	}
	link.writing = true
	return true
}

// releaseWriter ends holdWriter, and has what was queued meanwhile
// written.
func (s *session) releaseWriter(link *wsLink) {
	s.mu.Lock()
	link.writing = false
	s.writerChangedLocked(link)
	s.wakeWriterLocked(link)
	s.mu.Unlock()
}

// bufferedBytes returns a copy of what conn, the WebSocket library's
// connection, has read from the socket and not handed over yet, and
// reports false when it cannot tell or is in the middle of a message.
func bufferedBytes(conn *fws.Conn) ([]byte, bool) {
	v := reflect.ValueOf(conn).Elem()
	brf, rem, mr := v.FieldByName("br"), v.FieldByName("readRemaining"), v.FieldByName("messageReader")
	if !brf.IsValid() || brf.Type() != reflect.TypeOf((*bufio.Reader)(nil)) ||
		!rem.IsValid() || rem.Kind() != reflect.Int64 || rem.Int() != 0 ||
		!mr.IsValid() || mr.Kind() != reflect.Pointer || !mr.IsNil() {
		return nil, false
	}
	br := *(**bufio.Reader)(unsafe.Pointer(brf.UnsafeAddr()))
	if br == nil || br.Buffered() == 0 {
		return nil, true
	}
	b, err := br.Peek(br.Buffered())
	if err != nil {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// socketOf finds the socket under conn, through the wrappers whose reads
// go straight to it: fasthttp's hijacked connection once its request
// reader is dropped (dropRequestReader), WrapListener's, and wrappers
// offering NetConn. TLS, and anything else, is not seen through.
func socketOf(conn net.Conn) syscall.Conn {
	for range 8 {
		switch c := conn.(type) {
		case *net.TCPConn:
			return c
		case *net.UnixConn:
			return c
		case *tls.Conn:
			return nil
		case *hookConn:
			conn = c.Conn
		case interface{ UnsafeConn() net.Conn }:
			if !readsSocket(conn) {
				return nil
			}
			conn = c.UnsafeConn()
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// readsSocket reports whether nc, a connection fasthttp hijacked, reads
// its connection directly (dropRequestReader dropped its reader), so that
// no byte is left in a buffer above the socket but those its client sent
// behind the upgrade request, which handOff takes (pipelinedReader).
func readsSocket(nc net.Conn) bool {
	raw, ok := nc.(interface{ UnsafeConn() net.Conn })
	v := reflect.ValueOf(nc)
	if !ok || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("r")
	if !f.IsValid() || f.Type() != readerType {
		return false
	}
	r := *readerField(f)
	if pr, ok := r.(*pipelinedReader); ok {
		return pr.conn == raw.UnsafeConn()
	}
	c, ok := r.(net.Conn)
	return ok && c == raw.UnsafeConn()
}

// workPool runs read turns on goroutines started as turns are submitted,
// at most max at once. A worker left without a turn waits for the next
// one while fewer than keep others wait, and ends otherwise or once the
// pool is released: a goroutine started for every turn grew its stack
// anew each time (copying stacks took 13-16 % of the server's CPU at
// 12,700 acks/s, starting and ending goroutines as much again), while a
// waiting worker has its stack grown already.
//
// The queue holds the turns no worker has taken. At most spread workers
// are on their way to them at once, woken or started, and each that takes
// a turn brings the next while turns are left: a turn never waits behind
// a busy worker (a handler that takes its time holds its worker) without
// another on its way, and the turns that came together do not wake a
// worker each when one or two take them all: at 12,700 acks/s on a busy
// machine a trace showed a dozen woken at once, and 2,400 goroutines a
// second started past those waiting (none in the same trace now).
type workPool struct {
	mu    sync.Mutex
	idle  sync.Cond // L is &mu; waiting workers
	queue fifo[*pollConn]
	// workers counts the workers started and not ended; waiting, those
	// waiting in idle; coming, those woken or started that have not
	// looked at the queue yet.
	workers, waiting, coming int
	// released ends the workers left without a turn: set while the
	// poller has no loop (see poller.loop), when no connection may submit
	// one but for a straggler, which a worker started for it takes.
	released bool
	max      int
	keep     int
	// spread bounds coming (at least 1).
	spread int
	run    func(pc *pollConn, r *sockReader)
	alive  *tracker
	// readers holds the read buffers of the workers that ended.
	readers sync.Pool
}

// idleReadWorkers is how many workers without a turn a pool keeps waiting
// for the next one, which is more than the turns usually ready at once.
const idleReadWorkers = 16

func (w *workPool) submit(pc *pollConn) {
	w.mu.Lock()
	w.queue.push(pc)
	start := w.bringLocked()
	w.mu.Unlock()
	if start {
		w.startWorker()
	}
}

// bringLocked wakes a waiting worker for the queued turns, when more are
// queued than workers are coming and fewer than spread are; it reports
// whether a worker should be started instead (w.mu is held; the caller
// starts it after unlocking).
func (w *workPool) bringLocked() (start bool) {
	if w.queue.len() <= w.coming || w.coming >= max(w.spread, 1) {
		return false
	}
	if w.waiting > 0 {
		w.waiting--
		w.coming++
		w.idleCond().Signal()
		return false
	}
	if w.workers >= w.max {
		return false
	}
	w.workers++
	w.coming++
	return true
}

func (w *workPool) startWorker() {
	w.alive.add()
	go w.loop()
}

// hold lets workers left without a turn wait for the next one.
func (w *workPool) hold() {
	w.mu.Lock()
	w.released = false
	w.mu.Unlock()
}

// release ends the workers waiting for a turn, and those that will be
// left without one, until the next hold.
func (w *workPool) release() {
	w.mu.Lock()
	w.released = true
	for ; w.waiting > 0; w.waiting-- {
		w.coming++
		w.idleCond().Signal()
	}
	w.mu.Unlock()
}

// idleCond is w.idle, tied to w.mu on first use; w.mu is held.
func (w *workPool) idleCond() *sync.Cond {
	if w.idle.L == nil {
		w.idle.L = &w.mu
	}
	return &w.idle
}

func (w *workPool) loop() {
	defer w.alive.done()
	var r *sockReader
	w.mu.Lock()
	w.coming--
	for {
		pc, ok := w.queue.pop()
		if !ok {
			if w.released || w.waiting >= w.keep {
				w.workers--
				w.mu.Unlock()
				if r != nil {
					w.readers.Put(r)
				}
				return
			}
			// A waiting worker keeps its read buffer (keep of them at
			// most), so that waking allocates nothing: a buffer given
			// back goes with the pool's next garbage collections, and a
			// turn that allocates 16 KiB while the collector runs
			// assists it, or waits for it.
			w.waiting++
			w.idleCond().Wait()
			w.coming--
			continue
		}
		start := w.bringLocked()
		w.mu.Unlock()
		if start {
			w.startWorker()
		}
		if r == nil {
			r, _ = w.readers.Get().(*sockReader)
			if r == nil {
				r = newSockReader(pollReadBuffer)
			}
		}
		w.run(pc, r)
		w.mu.Lock()
	}
}
