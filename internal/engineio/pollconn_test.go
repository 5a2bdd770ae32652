package engineio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// pollerOptions are Options that read WebSockets with the poller.
func pollerOptions() Options { return Options{ReadPath: ReadPathPoller} }

// rawWebSocket opens a WebSocket session over a plain TCP connection, as
// an attacker would, and returns it after the open packet: the test then
// writes frames byte by byte and reads the server's frames itself.
func rawWebSocket(t testing.TB, ts *testServer) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + ts.addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitLimit))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if op, data := readServerFrame(t, br); op != opText || !strings.HasPrefix(string(data), "0{") {
		t.Fatalf("open packet: opcode %d %q", op, data)
	}
	return conn, br
}

// readServerFrame reads one unmasked frame the server wrote.
func readServerFrame(t testing.TB, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := ioReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	n := int(h[1] & 0x7F)
	switch n {
	case 126:
		var e [2]byte
		_, _ = ioReadFull(br, e[:])
		n = int(e[0])<<8 | int(e[1])
	case 127:
		t.Fatal("frame too long for the test")
	}
	data := make([]byte, n)
	if _, err := ioReadFull(br, data); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return h[0] & 0x0F, data
}

func ioReadFull(br *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := br.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// maskedClientFrame is clientFrame masked with a real key, so that a test
// sees the server unmask across reads.
func maskedClientFrame(opcode byte, fin bool, payload []byte) []byte {
	frame := clientFrame(opcode, fin, payload)
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	start := len(frame) - len(payload)
	copy(frame[start-4:start], key[:])
	for i := range payload {
		frame[start+i] ^= key[i%4]
	}
	return frame
}

// writeByteByByte writes b one byte per write, so that the server reads
// every frame in pieces.
func writeByteByByte(t testing.TB, conn net.Conn, b []byte) {
	t.Helper()
	for i := range b {
		if _, err := conn.Write(b[i : i+1]); err != nil {
			t.Fatalf("write byte %d: %v", i, err)
		}
	}
}

func TestPollerDecodesFramesArrivingOneByteAtATime(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, pollerOptions(), rec)
	conn, br := rawWebSocket(t, ts)
	rec.nextConn(t)
	if err := conn.(*net.TCPConn).SetNoDelay(true); err != nil {
		t.Fatal(err)
	}

	long := "4" + strings.Repeat("L", 300) // a 16-bit length
	var stream []byte
	stream = append(stream, maskedClientFrame(opText, true, []byte("4text"))...)
	stream = append(stream, maskedClientFrame(opBinary, true, []byte{0, 1, 2, 0xff})...)
	stream = append(stream, maskedClientFrame(opText, true, []byte(long))...)
	// A fragmented text message with a ping between its fragments, which
	// control frames may be.
	stream = append(stream, maskedClientFrame(opText, false, []byte("4frag"))...)
	stream = append(stream, maskedClientFrame(opPing, true, []byte("are you there"))...)
	stream = append(stream, maskedClientFrame(opContinuation, false, []byte("men"))...)
	stream = append(stream, maskedClientFrame(opPong, true, []byte("unsolicited"))...)
	stream = append(stream, maskedClientFrame(opContinuation, true, []byte("ted"))...)
	// A fragmented binary message.
	stream = append(stream, maskedClientFrame(opBinary, false, []byte{9, 8})...)
	stream = append(stream, maskedClientFrame(opContinuation, true, []byte{7})...)
	writeByteByByte(t, conn, stream)

	rec.expectMessage(t, "text", false)
	rec.expectMessage(t, "\x00\x01\x02\xff", true)
	rec.expectMessage(t, long[1:], false)
	rec.expectMessage(t, "fragmented", false)
	rec.expectMessage(t, "\x09\x08\x07", true)

	// The echoes and the pong, in the order the messages came.
	want := []struct {
		op   byte
		data string
	}{
		{opText, "4text"}, {opBinary, "\x00\x01\x02\xff"}, {opText, long},
		{opPong, "are you there"}, {opText, "4fragmented"}, {opBinary, "\x09\x08\x07"},
	}
	var got []string
	for range want {
		op, data := readServerFrame(t, br)
		got = append(got, fmt.Sprintf("%d:%s", op, data))
	}
	// The pong is written with the next batch; where it falls among the
	// echoes is the writer's choice, but the echoes keep their order.
	var echoes, wantEchoes []string
	pong := false
	for _, g := range got {
		if strings.HasPrefix(g, fmt.Sprintf("%d:", opPong)) {
			pong = g == fmt.Sprintf("%d:are you there", opPong)
			continue
		}
		echoes = append(echoes, g)
	}
	for _, w := range want {
		if w.op != opPong {
			wantEchoes = append(wantEchoes, fmt.Sprintf("%d:%s", w.op, w.data))
		}
	}
	if !pong || strings.Join(echoes, "|") != strings.Join(wantEchoes, "|") {
		t.Fatalf("server wrote %q, want the echoes %q and the pong", got, wantEchoes)
	}
}

func TestPollerAnswersClientCloseFrameAndEndsTheSession(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, pollerOptions(), rec)
	conn, br := rawWebSocket(t, ts)
	rec.nextConn(t)
	writeByteByByte(t, conn, maskedClientFrame(opClose, true, fws.FormatCloseMessage(fws.CloseGoingAway, "bye")))
	op, data := readServerFrame(t, br)
	if op != opClose || !bytes.Equal(data, fws.FormatCloseMessage(fws.CloseGoingAway, "")) {
		t.Fatalf("answer: opcode %d %q", op, data)
	}
	rec.expectClose(t, "transport close")
	eventually(t, "the session forgotten", func() bool { return ts.srv.SessionCount() == 0 })
}

func TestPollerRefusesProtocolErrorsWithClose1002(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unmasked frame", []byte{0x81, 0x02, '4', 'x'}},
		{"reserved bits", append([]byte{0xC1}, maskedClientFrame(opText, true, []byte("4x"))[1:]...)},
		{"continuation without a message", maskedClientFrame(opContinuation, true, []byte("x"))},
		{"fragmented control frame", maskedClientFrame(opPing, false, []byte("x"))},
		{"unknown opcode", maskedClientFrame(0x3, true, []byte("x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(false)
			ts := startServer(t, pollerOptions(), rec)
			conn, br := rawWebSocket(t, ts)
			rec.nextConn(t)
			// The server may refuse the frame, and close, before its
			// last bytes are written: a failed write is not the outcome.
			for i := range tc.frame {
				if _, err := conn.Write(tc.frame[i : i+1]); err != nil {
					break
				}
			}
			op, data := readServerFrame(t, br)
			if op != opClose || len(data) < 2 || int(data[0])<<8|int(data[1]) != fws.CloseProtocolError {
				t.Fatalf("answer: opcode %d %q, want close 1002", op, data)
			}
			rec.expectClose(t, "transport close")
		})
	}
}

// heldMessageHandler holds every message in OnMessage until release is
// closed, and records the close.
type heldMessageHandler struct {
	inMessage chan struct{}
	release   chan struct{}
	closed    chan string
}

func (h *heldMessageHandler) Open(Conn) Listener { return h }
func (h *heldMessageHandler) OnMessage(Message) {
	h.inMessage <- struct{}{}
	<-h.release
}
func (h *heldMessageHandler) OnClose(reason string) { h.closed <- reason }

func TestPollerPeerClosingWhileAWorkerHoldsItsMessageEndsTheSession(t *testing.T) {
	h := &heldMessageHandler{inMessage: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan string, 1)}
	ts := startServer(t, pollerOptions(), h)
	held, _ := rawWebSocket(t, ts)
	writeByteByByte(t, held, maskedClientFrame(opText, true, []byte("4slow")))
	select {
	case <-h.inMessage:
	case <-time.After(waitLimit):
		t.Fatal("the message never reached the handler")
	}
	// The peer goes away while a worker is inside its handler.
	_ = held.Close()

	// Another socket is read meanwhile: the held worker stalls no one.
	other := openWebSocket(t, ts)
	writeText(t, other, "4other")
	select {
	case <-h.inMessage:
	case <-time.After(waitLimit):
		t.Fatal("a slow handler stalled another socket's read")
	}
	close(h.release)
	select {
	case reason := <-h.closed:
		if reason != "transport close" {
			t.Fatalf("closed with %q", reason)
		}
	case <-time.After(waitLimit):
		t.Fatal("the session of the closed connection never ended")
	}
	other.Close()
	<-h.closed
	eventually(t, "every session finished", func() bool {
		ts.srv.alive.mu.Lock()
		defer ts.srv.alive.mu.Unlock()
		return ts.srv.alive.running == 0
	})
}

func TestPollerIdleWebSocketsHoldNoGoroutineAndEachAnswersWhenWoken(t *testing.T) {
	const n = 1000
	rec := &countingEcho{}
	ts := startServer(t, pollerOptions(), rec)
	// Warm the HTTP server's workers and the poller.
	warm := openWebSocket(t, ts)
	warm.Close()
	eventually(t, "the warm-up session finished", func() bool { return ts.srv.SessionCount() == 0 })
	runtime.GC()
	before := runtime.NumGoroutine()

	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		conns[i], readers[i] = rawWebSocket(t, ts)
	}
	eventually(t, "every session open", func() bool { return ts.srv.SessionCount() == n })
	// fasthttp's workers linger a little after the upgrades they served.
	var idle int
	eventuallyWithin(t, "goroutines back to about what they were", 15*time.Second, func() bool {
		idle = runtime.NumGoroutine()
		return idle-before < 50
	})
	peak := idle
	for i, c := range conns {
		if _, err := c.Write(maskedClientFrame(opText, true, []byte(fmt.Sprintf("4wake %d", i)))); err != nil {
			t.Fatal(err)
		}
		op, data := readServerFrame(t, readers[i])
		if op != opText || string(data) != fmt.Sprintf("4wake %d", i) {
			t.Fatalf("connection %d answered opcode %d %q", i, op, data)
		}
		peak = max(peak, runtime.NumGoroutine())
	}
	if got := rec.messages.Load(); got != n {
		t.Fatalf("handler saw %d messages, want %d", got, n)
	}
	t.Logf("goroutines: %d before, %d with %d idle WebSockets, at most %d while they woke one at a time", before, idle, n, peak)
	if peak-before > 50 {
		t.Fatalf("goroutines grew from %d to %d with %d WebSockets", before, peak, n)
	}
}

// countingEcho answers every message and counts them.
type countingEcho struct{ messages atomic.Int64 }

func (e *countingEcho) Open(c Conn) Listener { return &countingEchoListener{e: e, c: c} }

type countingEchoListener struct {
	e *countingEcho
	c Conn
}

func (l *countingEchoListener) OnMessage(m Message) {
	l.e.messages.Add(1)
	_ = l.c.Send(Message{Data: bytes.Clone(m.Data), Binary: m.Binary})
}
func (l *countingEchoListener) OnClose(string) {}

// eventuallyWithin is eventually with its own limit.
func eventuallyWithin(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleClientsEnv, when set to a server address, makes
// TestIdleClientsHelper the client side of
// TestPollerTenThousandIdleWebSocketsWakeOneAtATime, in a process of its
// own: 10,000 connections on both ends would not fit one process's
// limit of open files.
const idleClientsEnv = "ENGINEIO_TEST_IDLE_CLIENTS_ADDR"

func TestPollerTenThousandIdleWebSocketsWakeOneAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	const n = 10_000
	rec := &countingEcho{}
	ts := startServer(t, pollerOptions(), rec)
	warm := openWebSocket(t, ts)
	warm.Close()
	eventually(t, "the warm-up session finished", func() bool { return ts.srv.SessionCount() == 0 })
	before := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleClientsEnv+"="+ts.addr, fmt.Sprintf("ENGINEIO_TEST_IDLE_CLIENTS_N=%d", n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
		// The server ends the sessions as their clients go, after the
		// test's clean-up gave up waiting for them: wait here, so that
		// their sockets are not left open into the next test (which counts
		// the process's open files).
		eventuallyWithin(t, "every session of the 10,000 finished", 15*time.Second, func() bool {
			ts.srv.alive.mu.Lock()
			defer ts.srv.alive.mu.Unlock()
			return ts.srv.alive.running == 0
		})
	}()
	lines := bufio.NewScanner(stdout)
	expectLine := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if line := lines.Text(); strings.HasPrefix(line, prefix) {
				return line
			}
		}
		t.Fatalf("the client process ended before %q: %v", prefix, lines.Err())
		return ""
	}
	expectLine("READY")
	if got := ts.srv.SessionCount(); got != n {
		t.Fatalf("%d sessions open, want %d", got, n)
	}
	var idle int
	eventuallyWithin(t, "goroutines back to about what they were", 15*time.Second, func() bool {
		idle = runtime.NumGoroutine()
		return idle-before < 50
	})

	// Sample the goroutines while the connections wake one at a time.
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if g := int64(runtime.NumGoroutine()); g > peak.Load() {
				peak.Store(g)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	if _, err := io.WriteString(stdin, "GO\n"); err != nil {
		t.Fatal(err)
	}
	done := expectLine("DONE")
	close(stop)
	<-sampled
	if done != fmt.Sprintf("DONE %d", n) {
		t.Fatalf("client: %s, want every connection answered", done)
	}
	if got := rec.messages.Load(); got != n {
		t.Fatalf("handler saw %d messages, want %d", got, n)
	}
	t.Logf("goroutines: %d before, %d with %d idle WebSockets, at most %d while they woke one at a time",
		before, idle, n, peak.Load())
	if int(peak.Load())-before > 50 {
		t.Fatalf("goroutines grew from %d to %d with %d WebSockets", before, peak.Load(), n)
	}
}

// TestIdleClientsHelper is the client process of
// TestPollerTenThousandIdleWebSocketsWakeOneAtATime; it does nothing on
// its own.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv(idleClientsEnv)
	if addr == "" {
		t.Skip("the client side of another test")
	}
	n, _ := strconv.Atoi(os.Getenv("ENGINEIO_TEST_IDLE_CLIENTS_N"))
	ts := &testServer{addr: addr}
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				conns[i], readers[i] = rawWebSocket(t, ts)
				_ = conns[i].SetReadDeadline(time.Time{})
			}
		})
	}
	wg.Wait()
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "GO" {
		t.Fatal("no GO from the test")
	}
	answered := 0
	for i, c := range conns {
		msg := fmt.Sprintf("4wake %d", i)
		if _, err := c.Write(maskedClientFrame(opText, true, []byte(msg))); err != nil {
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(waitLimit))
		if op, data := readServerFrame(t, readers[i]); op != opText || string(data) != msg {
			break
		}
		answered++
	}
	fmt.Printf("DONE %d\n", answered)
	for in.Scan() {
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

func TestPollerLeavesNoFileDescriptorBehind(t *testing.T) {
	const n = 200
	rec := &countingEcho{}
	ts := startServer(t, pollerOptions(), rec)
	warm := openWebSocket(t, ts)
	warm.Close()
	eventually(t, "the warm-up session finished", func() bool { return ts.srv.SessionCount() == 0 })
	before := openFiles(t)

	// Half close from the client, half are closed by the server.
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i], _ = rawWebSocket(t, ts)
	}
	eventually(t, "every session open", func() bool { return ts.srv.SessionCount() == n })
	if got := openFiles(t); got < before+2*n {
		t.Fatalf("%d open files with %d WebSockets (both ends), from %d", got, n, before)
	}
	for _, c := range conns[:n/2] {
		_ = c.Close()
	}
	ts.srv.mu.Lock()
	var sessions []*session
	for _, s := range ts.srv.sessions {
		sessions = append(sessions, s)
	}
	ts.srv.mu.Unlock()
	for _, s := range sessions {
		s.Close("server close")
	}
	eventually(t, "every session finished", func() bool {
		ts.srv.alive.mu.Lock()
		defer ts.srv.alive.mu.Unlock()
		return ts.srv.alive.running == 0
	})
	for _, c := range conns[n/2:] {
		_ = c.Close()
	}
	// The epoll instance goes with the last connection, its loop too.
	eventuallyWithin(t, "the open files back to what they were", waitLimit, func() bool { return openFiles(t) <= before })
}

func TestPollerReadsMessagesSentWithTheUpgradePacketFirst(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, pollerOptions(), rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()
	writeText(t, ws, "2probe")
	expectText(t, ws, "3probe")
	// The upgrade packet and two messages in one write: the WebSocket
	// library reads them together while it waits for the upgrade, and the
	// poller must read the two messages from its buffer before the socket.
	var burst []byte
	for _, m := range []string{"5", "4first", "4second"} {
		burst = append(burst, maskedClientFrame(opText, true, []byte(m))...)
	}
	if _, err := ws.UnderlyingConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	rec.expectMessage(t, "first", false)
	rec.expectMessage(t, "second", false)
	expectText(t, ws, "4first")
	expectText(t, ws, "4second")
	writeText(t, ws, "4third")
	rec.expectMessage(t, "third", false)
	expectText(t, ws, "4third")
	if got := conn.Transport(); got != TransportWebSocket {
		t.Fatalf("transport %q after the upgrade", got)
	}
	s := conn.(*session)
	s.mu.Lock()
	polled := s.ws != nil && s.ws.pc.Load() != nil
	s.mu.Unlock()
	if !polled {
		t.Fatal("the upgraded WebSocket is not read by the poller")
	}
}

func TestWorkPoolRunsEveryTurnWithinItsBoundAndKeepsNoDeadQueue(t *testing.T) {
	const turns = 1000
	var alive tracker
	gate := make(chan struct{})
	var mu sync.Mutex
	var order []*pollConn
	running, peak := 0, 0
	w := &workPool{max: 2, alive: &alive, run: func(pc *pollConn, _ *sockReader) {
		mu.Lock()
		running++
		peak = max(peak, running)
		order = append(order, pc)
		first := len(order) == 1
		mu.Unlock()
		if first {
			<-gate // the first turn holds its worker while the rest queue
		}
		mu.Lock()
		running--
		mu.Unlock()
	}}
	pcs := make([]*pollConn, turns)
	for i := range pcs {
		pcs[i] = &pollConn{}
		w.submit(pcs[i])
	}
	close(gate)
	if err := alive.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(order) != turns {
		t.Fatalf("%d turns ran, want %d", len(order), turns)
	}
	if peak > 2 {
		t.Fatalf("%d turns ran at once, over the bound of 2", peak)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.workers != 0 || w.queue.head != 0 || len(w.queue.items) != 0 {
		t.Fatalf("pool left with %d workers, head %d, %d queued", w.workers, w.queue.head, len(w.queue.items))
	}
}

func TestWorkPoolWorkersWaitForTheNextTurnUntilReleased(t *testing.T) {
	var alive tracker
	ran := make(chan *pollConn)
	w := &workPool{max: 8, keep: 2, spread: 1, alive: &alive, run: func(pc *pollConn, _ *sockReader) { ran <- pc }}
	w.hold()
	workersWaiting := func() (workers, waiting int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.workers, w.waiting
	}
	// Turns one after the other: the worker started for the first takes
	// every later one, instead of a goroutine started for each.
	for i := range 5 {
		pc := &pollConn{}
		w.submit(pc)
		if got := <-ran; got != pc {
			t.Fatalf("turn %d ran another connection", i)
		}
		eventually(t, "the worker waiting", func() bool {
			workers, waiting := workersWaiting()
			return workers == 1 && waiting == 1
		})
	}
	// Three at once, each holding its worker: with one worker coming at a
	// time, each brings the next as it takes its turn, so that none waits
	// behind a busy one; three workers, of which two stay, as keep says.
	for range 3 {
		w.submit(&pollConn{})
	}
	for range 3 {
		<-ran
	}
	eventually(t, "two workers waiting", func() bool {
		workers, waiting := workersWaiting()
		return workers == 2 && waiting == 2
	})
	w.release()
	if err := alive.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A turn submitted after the release (a connection's timer firing
	// late) still runs, and its worker ends.
	w.submit(&pollConn{})
	<-ran
	if err := alive.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if workers, waiting := workersWaiting(); workers != 0 || waiting != 0 {
		t.Fatalf("pool left with %d workers, %d waiting", workers, waiting)
	}
}

func TestPollerKeepsReadingAClientThatStoppedReadingItsReplies(t *testing.T) {
	const msgs = 400 // 6.4 MiB of echoes: far more than socket buffers hold
	rec := &countingEcho{}
	ts := startServer(t, Options{ReadPath: ReadPathPoller, PingInterval: time.Minute, PingTimeout: 30 * time.Second,
		SendQueue: 2 * msgs}, rec)
	conn, br := rawWebSocket(t, ts)
	payload := bytes.Repeat([]byte("x"), 16<<10)
	go func() {
		for range msgs {
			if _, err := conn.Write(maskedClientFrame(opBinary, true, payload)); err != nil {
				return
			}
		}
	}()
	// The client reads nothing: a worker that waited on the echoes' write
	// would stop reading the client (and, with every worker so held, every
	// other client) until the write timeout.
	eventuallyWithin(t, "every message read while the client reads nothing", 10*time.Second, func() bool {
		return rec.messages.Load() == msgs
	})
	_ = conn.SetReadDeadline(time.Now().Add(waitLimit))
	for i := range msgs {
		if op, data := readServerFrame(t, br); op != opBinary || len(data) != len(payload) {
			t.Fatalf("echo %d: opcode %d, %d bytes", i, op, len(data))
		}
	}
}

// TestSessionsOfClientsThatSendAndCloseAtOnceEnd opens WebSockets that
// each send a message and close their socket in the same breath, as a
// client that fires one event and goes away does: the message and the end
// of the stream reach the server together. On either read path each
// session must end when its socket does, not at the ping timeout.
func TestSessionsOfClientsThatSendAndCloseAtOnceEnd(t *testing.T) {
	for _, path := range []string{ReadPathPoller, ReadPathGoroutine} {
		t.Run(path, func(t *testing.T) {
			const n = 200
			// No reply: a write to the gone client would end its session
			// by itself, whatever the read path saw.
			rec := &countingSink{}
			ts := startServer(t, Options{ReadPath: path}, rec)
			conns := make([]net.Conn, n)
			for i := range conns {
				conns[i], _ = rawWebSocket(t, ts)
			}
			eventually(t, "every session open", func() bool { return ts.srv.SessionCount() == n })
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = c.Write(maskedClientFrame(opText, true, []byte(fmt.Sprintf("4last %d", i))))
					_ = c.Close()
				}()
			}
			wg.Wait()
			// The ping timeout is 45 s: a session still open a few
			// seconds on was never told its socket ended.
			deadline := time.Now().Add(3 * time.Second)
			for ts.srv.SessionCount() > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := ts.srv.SessionCount(); left > 0 {
				t.Fatalf("%d of %d sessions still open 3 s after their clients closed (%d messages read)", left, n, rec.messages.Load())
			}
			if got := rec.messages.Load(); got != n {
				t.Fatalf("the handler saw %d of the %d last messages", got, n)
			}
		})
	}
}

// countingSink counts the messages it is given and answers none.
type countingSink struct{ messages atomic.Int64 }

func (s *countingSink) Open(Conn) Listener { return s }
func (s *countingSink) OnMessage(Message)  { s.messages.Add(1) }
func (s *countingSink) OnClose(string)     {}
