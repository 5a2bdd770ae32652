package engineio

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// slowConsumerRun is one broadcast of many large messages to fast clients
// and one client that does not read.
type slowConsumerRun struct {
	fast    []Conn
	slow    Conn
	slowWS  *fws.Conn
	rounds  int
	results chan fastResult
}

type fastResult struct {
	received int
	err      error
}

const (
	slowConsumerQueue   = 8
	slowConsumerRounds  = 240
	slowConsumerMsgSize = 64 << 10 // 240 × 64 KiB: far more than TCP buffers hold
)

// startSlowConsumerRun opens three fast WebSocket clients, which read every
// message and report how many arrived in order, and one that reads nothing
// after the open packet.
func startSlowConsumerRun(t *testing.T, ts *testServer, rec *recorder) *slowConsumerRun {
	t.Helper()
	run := &slowConsumerRun{rounds: slowConsumerRounds, results: make(chan fastResult, 3)}
	progress := make([]chan int, 3)
	for i := range 3 {
		ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
		t.Cleanup(func() { ws.Close() })
		readOpen(t, ws)
		run.fast = append(run.fast, rec.nextConn(t))
		progress[i] = make(chan int, slowConsumerRounds)
		go func(ws *fws.Conn, progress chan<- int) {
			received := 0
			for received < slowConsumerRounds {
				_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
				_, data, err := ws.ReadMessage()
				if err != nil {
					run.results <- fastResult{received, err}
					close(progress)
					return
				}
				if !bytes.HasPrefix(data, []byte("4"+strconv.Itoa(received)+":")) {
					run.results <- fastResult{received, errors.New("out of order: " + string(data[:min(len(data), 12)]))}
					close(progress)
					return
				}
				received++
				progress <- received
			}
			run.results <- fastResult{received, nil}
		}(ws, progress[i])
	}
	run.slowWS = dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	t.Cleanup(func() { run.slowWS.Close() })
	readOpen(t, run.slowWS)
	run.slow = rec.nextConn(t)

	// Each round goes to every client; the next round waits until the fast
	// ones have the last, so only the slow one can fall behind.
	pad := bytes.Repeat([]byte("x"), slowConsumerMsgSize)
	for round := range slowConsumerRounds {
		msg := Message{Data: append([]byte(strconv.Itoa(round)+":"), pad...)}
		for _, c := range run.fast {
			if err := c.Send(msg); err != nil {
				t.Fatalf("round %d: send to a fast client: %v", round, err)
			}
		}
		_ = run.slow.Send(msg)
		for i := range progress {
			select {
			case <-progress[i]:
			case <-time.After(waitLimit):
				t.Fatalf("round %d: fast client %d stalled", round, i)
			}
		}
	}
	for range run.fast {
		if r := <-run.results; r.err != nil || r.received != slowConsumerRounds {
			t.Fatalf("a fast client received %d of %d messages: %v", r.received, slowConsumerRounds, r.err)
		}
	}
	return run
}

func TestSlowConsumerOnWebSocketIsDisconnectedWithoutHoldingUpOthers(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{SendQueue: slowConsumerQueue, PingInterval: time.Minute, PingTimeout: 10 * time.Second}, rec)
	run := startSlowConsumerRun(t, ts, rec)

	rec.expectClose(t, "slow consumer")
	if err := run.slow.Send(Message{Data: []byte("late")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send to the dropped client = %v, want ErrClosed", err)
	}
	// Its connection is cut, not left open holding buffers: reading what
	// was in flight ends with the connection's end, not the read deadline.
	_ = run.slowWS.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := run.slowWS.ReadMessage()
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			t.Fatal("the slow client's connection was left open")
		}
		if err != nil {
			break
		}
	}
	eventually(t, "the slow session to be forgotten", func() bool { return ts.srv.SessionCount() == len(run.fast) })
}

func TestSlowConsumerDropOldestKeepsTheNewestWithinTheBound(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{
		SendQueue: slowConsumerQueue, SlowConsumer: SlowConsumerDropOldest,
		// The write timeout is the ping timeout: the slow client's blocked
		// write must outlast every round, which take over 10 s on a loaded
		// machine under the race detector.
		PingInterval: time.Minute, PingTimeout: time.Minute,
	}, rec)
	run := startSlowConsumerRun(t, ts, rec)

	s := run.slow.(*session)
	s.mu.Lock()
	queued := s.queuedMessages
	s.mu.Unlock()
	if queued > slowConsumerQueue {
		t.Errorf("the slow client has %d messages queued, over the bound of %d", queued, slowConsumerQueue)
	}
	select {
	case e := <-rec.events:
		t.Fatalf("the slow client was closed under drop_oldest: %+v", e)
	default:
	}

	// Reading again, the client gets increasing rounds with a gap, ending
	// with the newest.
	last, gaps := -1, 0
	for last < slowConsumerRounds-1 {
		_, data := readFrame(t, run.slowWS)
		i := bytes.IndexByte([]byte(data), ':')
		round, err := strconv.Atoi(data[1:max(i, 1)])
		if err != nil {
			t.Fatalf("unexpected frame %.12q", data)
		}
		if round <= last {
			t.Fatalf("round %d after %d", round, last)
		}
		if round != last+1 {
			gaps++
		}
		last = round
	}
	if gaps == 0 {
		t.Error("the slow client received every message although some were dropped")
	}
	if err := run.slow.Send(Message{Data: []byte("still open")}); err != nil {
		t.Fatalf("Send after catching up: %v", err)
	}
	expectText(t, run.slowWS, "4still open")
}

func TestDropOldestDropsAttachmentsWithTheirMessage(t *testing.T) {
	srv := &Server{opts: Options{SendQueue: 4, SlowConsumer: SlowConsumerDropOldest}.withDefaults()}
	s := &session{srv: srv, phase: phasePolling}
	send := func(msgs ...Message) {
		t.Helper()
		if err := s.Send(msgs...); err != nil {
			t.Fatal(err)
		}
	}
	send(Message{Data: []byte("a")}, Message{Data: []byte{1}, Binary: true}, Message{Data: []byte{2}, Binary: true})
	send(Message{Data: []byte("b")})
	send(Message{Data: []byte("c")})
	var got []string
	for _, p := range s.queue {
		got = append(got, string(p.data))
	}
	// "a" and its two attachments go together, although one message of
	// room would have been enough.
	if len(got) != 2 || got[0] != "b" || got[1] != "c" || s.queuedMessages != 2 {
		t.Fatalf("queue = %q (%d counted), want [b c]", got, s.queuedMessages)
	}
}
