package engineio

// Conformance to the Engine.IO v4 protocol as its specification describes
// it and as the reference Node.js server answers, request by request, over
// both transports where both apply. The upgrade races are driven in
// upgrade_race_test.go.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// phase is the transport phase of session sid; -1 once it is unknown.
func (ts *testServer) phase(sid string) transportPhase {
	s := ts.srv.lookup(sid)
	if s == nil {
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase
}

// pollURL is the polling URL of session sid.
func (ts *testServer) pollURL(sid string) string {
	return ts.url("EIO=4&transport=polling&sid=" + sid)
}

// expectClosedWithoutData reads ws until it ends and fails on any data
// frame: the server opened it only to close it.
func expectClosedWithoutData(t *testing.T, ws *fws.Conn) {
	t.Helper()
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	typ, data, err := ws.ReadMessage()
	if err == nil {
		t.Fatalf("the WebSocket got frame %d %q, want it closed", typ, data)
	}
	var closeErr *fws.CloseError
	if !errors.As(err, &closeErr) {
		t.Fatalf("the WebSocket ended with %v, want a close frame", err)
	}
}

// protocolOptions are those the protocol test suite runs against.
func protocolOptions() Options {
	return Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1_000_000}
}

func TestHandshakeAnnouncesSessionParametersOnBothTransports(t *testing.T) {
	ts := startServer(t, protocolOptions(), newRecorder(false))
	tests := []struct {
		transport string
		open      func(t *testing.T) handshakeBody
		upgrades  []string
	}{
		{TransportPolling, ts.handshakePolling, []string{TransportWebSocket}},
		{TransportWebSocket, func(t *testing.T) handshakeBody {
			ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
			t.Cleanup(func() { ws.Close() })
			return readOpen(t, ws)
		}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			hs := tt.open(t)
			if len(hs.SID) != 20 || hs.PingInterval != 300 || hs.PingTimeout != 200 || hs.MaxPayload != 1_000_000 {
				t.Fatalf("open packet %+v", hs)
			}
			if strings.Join(hs.Upgrades, ",") != strings.Join(tt.upgrades, ",") || hs.Upgrades == nil {
				t.Fatalf("upgrades %q, want %q", hs.Upgrades, tt.upgrades)
			}
		})
	}
}

func TestRequestsRefusedWithTheProtocolErrorOfTheReference(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	tests := []struct {
		name   string
		method string
		query  string
		code   errorCode
	}{
		{"handshake by POST", http.MethodPost, "EIO=4&transport=polling", codeBadHandshakeMethod},
		{"handshake by PUT", http.MethodPut, "EIO=4&transport=polling", codeBadHandshakeMethod},
		{"handshake by DELETE", http.MethodDelete, "EIO=4&transport=polling", codeBadHandshakeMethod},
		{"handshake by PATCH", http.MethodPatch, "EIO=4&transport=polling", codeBadHandshakeMethod},
		{"missing transport", http.MethodGet, "EIO=4", codeUnknownTransport},
		{"unknown transport", http.MethodGet, "EIO=4&transport=abc", codeUnknownTransport},
		{"missing EIO", http.MethodGet, "transport=polling", codeUnsupportedProtocolVersion},
		{"EIO not a number", http.MethodGet, "EIO=abc&transport=polling", codeUnsupportedProtocolVersion},
		{"EIO 3", http.MethodGet, "EIO=3&transport=polling", codeUnsupportedProtocolVersion},
		{"unknown sid by GET", http.MethodGet, "EIO=4&transport=polling&sid=unknown", codeUnknownSID},
		{"unknown sid by POST", http.MethodPost, "EIO=4&transport=polling&sid=unknown", codeUnknownSID},
		{"websocket transport without upgrade", http.MethodGet, "EIO=4&transport=websocket", codeBadRequest},
		{"websocket transport without upgrade for a session", http.MethodGet, "EIO=4&transport=websocket&sid=" + sid, codeBadRequest},
		{"session request by PUT", http.MethodPut, "EIO=4&transport=polling&sid=" + sid, codeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectProtocolError(t, ts.do(t, tt.method, ts.url(tt.query), "", nil), http.StatusBadRequest, tt.code)
		})
	}
	select {
	case e := <-rec.events:
		t.Fatalf("a refused request reached the open session: %+v", e)
	default:
	}
}

func TestWebSocketHandshakeRefusedWithHTTP400(t *testing.T) {
	ts := startServer(t, protocolOptions(), newRecorder(false))
	for _, query := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc", "EIO=4&transport=websocket&sid=unknown"} {
		t.Run(query, func(t *testing.T) {
			conn, resp, err := fws.DefaultDialer.Dial(ts.wsURL(query), nil)
			if err == nil {
				conn.Close()
				t.Fatal("the WebSocket was accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("dial: %v (%v), want HTTP 400", err, resp)
			}
			resp.Body.Close()
		})
	}
}

func TestPingTimeoutForgetsPollingSessionAtOnce(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	// The client never polls: no pong can come.
	rec.expectClose(t, "ping timeout")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	expectProtocolError(t, ts.post(t, sid, "3"), http.StatusBadRequest, codeUnknownSID)
}

func TestPingTimeoutAnswersPendingGetWithClosePacket(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	if got := ts.poll(t, sid); got.body != "2" {
		t.Fatalf("GET answered %q, want the ping", got.body)
	}
	pending := ts.asyncPoll(t, sid)
	if got := receive(t, pending); got.status != http.StatusOK || got.body != "1" {
		t.Fatalf("pending GET answered %d %q, want the close packet", got.status, got.body)
	}
	rec.expectClose(t, "ping timeout")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

func TestPingTimeoutClosesWebSocketAndForgetsSession(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	sid := readOpen(t, ws).SID
	rec.nextConn(t)

	expectText(t, ws, "2")
	rec.expectClose(t, "ping timeout")
	expectClosed(t, ws)
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

func TestPingPongOverPollingAsTheProtocolSuiteDoes(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	for range 3 {
		if got := ts.poll(t, sid); got.status != http.StatusOK || got.body != "2" {
			t.Fatalf("GET answered %d %q, want the ping", got.status, got.body)
		}
		if got := ts.post(t, sid, "3"); got.status != http.StatusOK || got.body != "ok" {
			t.Fatalf("pong answered %d %q", got.status, got.body)
		}
	}
}

func TestClientPingIsAProtocolErrorOnBothTransports(t *testing.T) {
	t.Run(TransportPolling, func(t *testing.T) {
		rec := newRecorder(false)
		ts := startServer(t, Options{}, rec)
		sid := ts.handshakePolling(t).SID
		rec.nextConn(t)
		ts.post(t, sid, "2")
		rec.expectClose(t, "transport error")
		expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	})
	t.Run(TransportWebSocket, func(t *testing.T) {
		rec := newRecorder(false)
		ts := startServer(t, Options{}, rec)
		ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
		defer ws.Close()
		readOpen(t, ws)
		rec.nextConn(t)
		writeText(t, ws, "2")
		rec.expectClose(t, "transport error")
		expectClosed(t, ws)
	})
}

func TestPollingPayloadRecordsAreSeparatedAndTyped(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	if got := ts.post(t, sid, "4hello\x1ebAQID\x1e4\x1e6\x1e4€ world"); got.status != http.StatusOK || got.body != "ok" {
		t.Fatalf("POST answered %d %q", got.status, got.body)
	}
	rec.expectMessage(t, "hello", false)
	rec.expectMessage(t, "\x01\x02\x03", true)
	rec.expectMessage(t, "", false)
	rec.expectMessage(t, "€ world", false)

	if err := conn.Send(Message{Data: []byte("a")}, Message{Data: []byte{1, 2, 3}, Binary: true}, Message{Data: []byte("")}); err != nil {
		t.Fatal(err)
	}
	got := ts.poll(t, sid)
	if got.body != "4a\x1ebAQID\x1e4" || got.header.Get("Content-Type") != contentTypePayload {
		t.Fatalf("GET answered %q (%s)", got.body, got.header.Get("Content-Type"))
	}
}

func TestWebSocketFramesCarryOnePacketEach(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{}, rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	readOpen(t, ws)
	rec.nextConn(t)

	writeText(t, ws, "6")
	writeText(t, ws, "4€")
	rec.expectMessage(t, "€", false)
	expectText(t, ws, "4€")
	if err := ws.WriteMessage(fws.BinaryMessage, []byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	rec.expectMessage(t, "\x00\x01", true)
	if typ, got := readFrame(t, ws); typ != fws.BinaryMessage || got != "\x00\x01" {
		t.Fatalf("binary echo came as %d %q, want a binary frame without prefix", typ, got)
	}
}

func TestNoopFromTheClientIsIgnored(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	if got := ts.post(t, sid, "6"); got.body != "ok" {
		t.Fatalf("noop POST answered %d %q", got.status, got.body)
	}
	ts.post(t, sid, "4after")
	rec.expectMessage(t, "after", false)
}

func TestInvalidPacketClosesAndForgetsTheSession(t *testing.T) {
	t.Run(TransportPolling, func(t *testing.T) {
		rec := newRecorder(false)
		ts := startServer(t, protocolOptions(), rec)
		sid := ts.handshakePolling(t).SID
		rec.nextConn(t)
		ts.post(t, sid, "4ok\x1ezzz")
		rec.expectMessage(t, "ok", false)
		rec.expectClose(t, "parse error")
		expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	})
	t.Run(TransportWebSocket, func(t *testing.T) {
		rec := newRecorder(false)
		ts := startServer(t, protocolOptions(), rec)
		ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
		defer ws.Close()
		sid := readOpen(t, ws).SID
		rec.nextConn(t)
		writeText(t, ws, "zzz")
		rec.expectClose(t, "parse error")
		expectClosed(t, ws)
		expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	})
}

func TestClientCloseAnswersPendingGetWithNoopAndForgetsSession(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	pending := ts.asyncPoll(t, sid)
	if got := ts.post(t, sid, "1"); got.status != http.StatusOK || got.body != "ok" {
		t.Fatalf("close POST answered %d %q", got.status, got.body)
	}
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	if got := receive(t, pending); got.status != http.StatusOK || got.body != "6" {
		t.Fatalf("pending GET answered %d %q, want a noop", got.status, got.body)
	}
	rec.expectClose(t, "transport close")
}

func TestClientCloseOverWebSocketEndsTheConnection(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer ws.Close()
	sid := readOpen(t, ws).SID
	rec.nextConn(t)

	writeText(t, ws, "1")
	rec.expectClose(t, "transport close")
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	if typ, data, err := ws.ReadMessage(); err == nil {
		t.Fatalf("got frame %d %q after the client's close, want the connection closed", typ, data)
	}
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

func TestServerCloseHandsClosePacketToNextGetThenForgets(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	conn := rec.nextConn(t)

	conn.Close("forced close")
	rec.expectClose(t, "forced close")
	if got := ts.poll(t, sid); got.status != http.StatusOK || got.body != "1" {
		t.Fatalf("GET after the server's close answered %d %q, want the close packet", got.status, got.body)
	}
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

// probeAndUpgrade runs the client side of a complete upgrade of sid on ws
// and waits until the session is carried by it.
func probeAndUpgrade(t *testing.T, ts *testServer, ws *fws.Conn, sid string) {
	t.Helper()
	writeText(t, ws, "2probe")
	expectText(t, ws, "3probe")
	writeText(t, ws, "5")
	eventually(t, "the session is upgraded", func() bool { return ts.phase(sid) == phaseWebSocket })
}

func TestPollingRequestsAfterUpgradeAreRefused(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	// As the protocol suite does: no wait for the probe's answer.
	writeText(t, ws, "2probe")
	writeText(t, ws, "5")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeBadRequest)
	expectProtocolError(t, ts.post(t, sid, "4late"), http.StatusBadRequest, codeBadRequest)
	expectText(t, ws, "3probe")
	writeText(t, ws, "4over websocket")
	rec.expectMessage(t, "over websocket", false)
	expectText(t, ws, "4over websocket")
}

func TestGetPendingWhenTheSessionUpgradesIsRefused(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	pending := ts.asyncPoll(t, sid)
	writeText(t, ws, "2probe")
	writeText(t, ws, "5")
	expectProtocolError(t, receive(t, pending), http.StatusBadRequest, codeBadRequest)
}

func TestGetDuringProbeIsReleasedWithNoopSoTheClientCanPause(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	pending := ts.asyncPoll(t, sid)
	writeText(t, ws, "2probe")
	expectText(t, ws, "3probe")
	if got := receive(t, pending); got.status != http.StatusOK || got.body != "6" {
		t.Fatalf("GET during the probe answered %d %q, want a noop", got.status, got.body)
	}
	writeText(t, ws, "5")
	eventually(t, "the session is upgraded", func() bool { return ts.phase(sid) == phaseWebSocket })
}

func TestSecondWebSocketIsOpenedThenClosed(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	// While the first one probes, then once it carries the session.
	expectClosedWithoutData(t, dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil))
	probeAndUpgrade(t, ts, ws, sid)
	expectClosedWithoutData(t, dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil))

	writeText(t, ws, "4still carried")
	rec.expectMessage(t, "still carried", false)
	expectText(t, ws, "4still carried")
}

// A session that started on a WebSocket was never upgraded, so the
// reference server (server.ts onWebSocket) lets a WebSocket with its sid
// probe and take it over, as a polling session's: the first one is closed
// once the client sends the upgrade packet. A WebSocket that comes while
// one probes, or once the session was upgraded, is closed.
func TestWebSocketWithTheSidOfAWebSocketOnlySessionProbesAndTakesItOver(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{}, rec)
	first := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer first.Close()
	sid := readOpen(t, first).SID
	rec.nextConn(t)

	second := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer second.Close()
	writeText(t, second, "2probe")
	expectText(t, second, "3probe")
	expectClosedWithoutData(t, dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil))
	writeText(t, first, "4before")
	rec.expectMessage(t, "before", false)
	expectText(t, first, "4before")

	writeText(t, second, "5")
	expectClosedWithoutData(t, first)
	writeText(t, second, "4after")
	rec.expectMessage(t, "after", false)
	expectText(t, second, "4after")
	expectClosedWithoutData(t, dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil))
	if ts.srv.lookup(sid) == nil || ts.phase(sid) != phaseWebSocket {
		t.Fatal("the session did not stay open on its new WebSocket")
	}
}

// A WebSocket probing a WebSocket-only session that sends anything but the
// probe is closed; the session carries on over its first WebSocket.
func TestFailedProbeOfAWebSocketOnlySessionKeepsItsWebSocket(t *testing.T) {
	rec := newRecorder(true)
	ts := startServer(t, Options{}, rec)
	first := dialWebSocket(t, ts, "EIO=4&transport=websocket", nil)
	defer first.Close()
	sid := readOpen(t, first).SID
	rec.nextConn(t)

	second := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	writeText(t, second, "4not a probe")
	expectClosedWithoutData(t, second)
	writeText(t, first, "4still carried")
	rec.expectMessage(t, "still carried", false)
	expectText(t, first, "4still carried")
	// The probe failed, so the session was not upgraded: another may try.
	again := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer again.Close()
	writeText(t, again, "2probe")
	expectText(t, again, "3probe")
}

func TestUnexpectedPacketDuringProbeKeepsPolling(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	ws := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer ws.Close()

	writeText(t, ws, "4not a probe")
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the probe stayed open after a packet other than the probe")
	}
	eventually(t, "the session polls again", func() bool { return ts.phase(sid) == phasePolling })
	// A new WebSocket may probe again.
	again := dialWebSocket(t, ts, "EIO=4&transport=websocket&sid="+sid, nil)
	defer again.Close()
	probeAndUpgrade(t, ts, again, sid)
}

func TestShutdownClosesIdlePollingSessionAtOnce(t *testing.T) {
	rec := newRecorder(false)
	// A ping far away: nothing but Shutdown ends the session.
	ts := startServer(t, Options{PingInterval: time.Minute, PingTimeout: time.Minute}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	start := time.Now()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with one idle polling session: %v", err)
	}
	// Generous: the point is that it does not wait for the deadline.
	if took := time.Since(start); took > waitLimit/2 {
		t.Fatalf("Shutdown took %v", took)
	}
	rec.expectClose(t, "server shutting down")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

func TestRequestAfterThePongDeadlineMeetsATimedOutSessionThoughTheTimerIsLate(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, Options{}, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	// A ping went out and its pong deadline passed, but the heartbeat timer
	// has not run yet, as on a machine too busy to run it in time.
	s := ts.srv.lookup(sid)
	s.mu.Lock()
	ts.srv.timers.Cancel(&s.timer)
	s.awaitingPong = true
	s.due = ts.srv.timers.Now() - time.Millisecond
	s.mu.Unlock()

	expectProtocolError(t, ts.post(t, sid, "3"), http.StatusBadRequest, codeUnknownSID)
	rec.expectClose(t, "ping timeout")
}

// The reference server reads a POST to its end, hands what it decoded to
// the session and answers 200 "ok" whatever the packets were: a packet
// that does not decode closes the session ("parse error"), which forgets
// its sid at once, and a pending GET gets the close packet.
func TestInvalidPacketInPostIsAnsweredOkAndForgetsTheSessionAtOnce(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	pending := ts.asyncPoll(t, sid)
	eventually(t, "the GET is pending", func() bool { return ts.pollPending(sid) })

	got := ts.post(t, sid, "4ok\x1ezzz\x1e4never")
	if got.status != http.StatusOK || got.body != "ok" || got.header.Get("Content-Type") != contentTypeDataAck {
		t.Fatalf("POST with an invalid packet answered %d %q (%s), want 200 \"ok\"", got.status, got.body, got.header.Get("Content-Type"))
	}
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
	rec.expectMessage(t, "ok", false)
	rec.expectClose(t, "parse error")
	if got := receive(t, pending); got.status != http.StatusOK || got.body != "1" {
		t.Fatalf("pending GET answered %d %q, want the close packet", got.status, got.body)
	}
}

// The reference server answers a POST over maxHttpBufferSize 413 with an
// empty body and leaves the session open: the client may go on.
func TestOversizedPostIsRefused413AndKeepsTheSession(t *testing.T) {
	rec := newRecorder(false)
	opts := protocolOptions()
	opts.MaxPayload = 100
	ts := startServer(t, opts, rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)

	if got := ts.post(t, sid, "4"+strings.Repeat("x", 200)); got.status != http.StatusRequestEntityTooLarge || got.body != "" {
		t.Fatalf("oversized POST answered %d %q, want 413 with an empty body", got.status, got.body)
	}
	if got := ts.post(t, sid, "4after"); got.status != http.StatusOK || got.body != "ok" {
		t.Fatalf("POST after the oversized one answered %d %q", got.status, got.body)
	}
	rec.expectMessage(t, "after", false)
	if ts.srv.lookup(sid) == nil {
		t.Fatal("the oversized POST closed the session")
	}
}

// The reference server answers a second GET while one is pending with an
// empty 400 and closes the session: the first GET gets the close packet.
func TestOverlappingGetIsAnsweredAnEmpty400AndClosesTheSession(t *testing.T) {
	rec := newRecorder(false)
	ts := startServer(t, protocolOptions(), rec)
	sid := ts.handshakePolling(t).SID
	rec.nextConn(t)
	first := ts.asyncPoll(t, sid)
	eventually(t, "the GET is pending", func() bool { return ts.pollPending(sid) })

	if got := ts.poll(t, sid); got.status != http.StatusBadRequest || got.body != "" {
		t.Fatalf("overlapping GET answered %d %q, want an empty 400", got.status, got.body)
	}
	if got := receive(t, first); got.status != http.StatusOK || got.body != "1" {
		t.Fatalf("first GET answered %d %q, want the close packet", got.status, got.body)
	}
	rec.expectClose(t, "transport error")
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}

// heldHandler opens sessions whose listener holds each message until
// release is closed, so that a POST stays in progress.
type heldHandler struct {
	received chan struct{}
	release  chan struct{}
	closed   chan string
}

func (h *heldHandler) Open(Conn) Listener { return h }

func (h *heldHandler) OnMessage(Message) {
	h.received <- struct{}{}
	<-h.release
}

func (h *heldHandler) OnClose(reason string) { h.closed <- reason }

// The reference server answers a second POST while one is in progress
// with an empty 400 and closes the session.
func TestOverlappingPostIsAnsweredAnEmpty400AndClosesTheSession(t *testing.T) {
	h := &heldHandler{received: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan string, 1)}
	ts := startServer(t, protocolOptions(), h)
	sid := ts.handshakePolling(t).SID
	firstDone := make(chan error, 1)
	go func() {
		// Not ts.post: it may not fail the test from this goroutine.
		resp, err := ts.client.Post(ts.pollURL(sid), "text/plain;charset=UTF-8", strings.NewReader("4held"))
		if err == nil {
			resp.Body.Close()
		}
		firstDone <- err
	}()
	select {
	case <-h.received:
	case <-time.After(waitLimit):
		t.Fatal("the first POST did not reach the listener")
	}

	got := ts.post(t, sid, "4second")
	close(h.release)
	if got.status != http.StatusBadRequest || got.body != "" {
		t.Fatalf("overlapping POST answered %d %q, want an empty 400", got.status, got.body)
	}
	select {
	case reason := <-h.closed:
		if reason != "transport error" {
			t.Fatalf("session closed with %q, want \"transport error\"", reason)
		}
	case <-time.After(waitLimit):
		t.Fatal("the overlapping POST left the session open")
	}
	select {
	case <-firstDone:
	case <-time.After(waitLimit):
		t.Fatal("the first POST was never answered")
	}
	expectProtocolError(t, ts.poll(t, sid), http.StatusBadRequest, codeUnknownSID)
}
