package engineio

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

var upgradeRaceRounds = flag.Int("upgrade-race-rounds", 200, "upgrades raced by TestUpgradeRacesEndAsTheReferenceServerEndsThem")

// echoHandler sends every message back to its session.
type echoHandler struct{}

func (echoHandler) Open(c Conn) Listener { return echoListener{c} }

type echoListener struct{ conn Conn }

func (l echoListener) OnMessage(msg Message) {
	_ = l.conn.Send(Message{Data: append([]byte(nil), msg.Data...), Binary: msg.Binary})
}

func (echoListener) OnClose(string) {}

// TestUpgradeRacesEndAsTheReferenceServerEndsThem upgrades hundreds of
// sessions the way the protocol suite does (the probe and the upgrade
// packet sent without waiting), each with a GET and a second WebSocket of
// the same sid sent at the same moment. Whatever order the server sees
// them in, the answers are the reference server's: the first WebSocket
// answers the probe and carries the session, the GET is refused as a
// transport mismatch, the second WebSocket is opened and closed.
func TestUpgradeRacesEndAsTheReferenceServerEndsThem(t *testing.T) {
	ts := startServer(t, Options{}, echoHandler{})
	const workers = 8
	rounds := make(chan int)
	errs := make(chan error, *upgradeRaceRounds)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range rounds {
				if err := raceOneUpgrade(ts); err != nil {
					errs <- fmt.Errorf("round %d: %w", round, err)
				}
			}
		}()
	}
	for round := range *upgradeRaceRounds {
		rounds <- round
	}
	close(rounds)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d raced upgrades did not end as the reference server ends them", failed, *upgradeRaceRounds)
	}
}

// raceOneUpgrade opens a polling session and a WebSocket for it, then at
// once sends the probe and upgrade packets, a GET and a second WebSocket.
func raceOneUpgrade(ts *testServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sid, err := openPolling(ctx, ts)
	if err != nil {
		return err
	}
	first, _, err := fws.DefaultDialer.DialContext(ctx, ts.wsURL("EIO=4&transport=websocket&sid="+sid), nil)
	if err != nil {
		return fmt.Errorf("first WebSocket: %w", err)
	}
	defer first.Close()

	start := make(chan struct{})
	results := make(chan error, 3)
	go func() {
		<-start
		err := first.WriteMessage(fws.TextMessage, []byte("2probe"))
		if err == nil {
			err = first.WriteMessage(fws.TextMessage, []byte("5"))
		}
		results <- err
	}()
	go func() {
		<-start
		results <- expectMismatch(ctx, ts, sid)
	}()
	go func() {
		<-start
		results <- expectOpenedThenClosed(ctx, ts, sid)
	}()
	close(start)
	for range 3 {
		if err := <-results; err != nil {
			return err
		}
	}
	return expectCarried(first)
}

func openPolling(ctx context.Context, ts *testServer) (string, error) {
	status, body, err := ts.get(ctx, ts.url("EIO=4&transport=polling"))
	if err != nil || status != http.StatusOK || len(body) < 2 {
		return "", fmt.Errorf("handshake: %d %q %v", status, body, err)
	}
	var hs handshakeBody
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil {
		return "", fmt.Errorf("handshake %q: %w", body, err)
	}
	return hs.SID, nil
}

// get sends a GET without failing the test from another goroutine.
func (ts *testServer) get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// expectMismatch polls sid and wants the reference server's answer to a
// polling request for an upgraded session.
func expectMismatch(ctx context.Context, ts *testServer, sid string) error {
	status, body, err := ts.get(ctx, ts.pollURL(sid))
	if err != nil {
		return fmt.Errorf("racing GET: %w", err)
	}
	var perr protocolError
	if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &perr) != nil || perr.Code != codeBadRequest {
		return fmt.Errorf("racing GET answered %d %q, want 400 with code %d", status, body, codeBadRequest)
	}
	return nil
}

// expectOpenedThenClosed opens a second WebSocket for sid and wants it
// closed without a data frame.
func expectOpenedThenClosed(ctx context.Context, ts *testServer, sid string) error {
	second, resp, err := fws.DefaultDialer.DialContext(ctx, ts.wsURL("EIO=4&transport=websocket&sid="+sid), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		return fmt.Errorf("racing WebSocket refused with HTTP %d (%w), want it opened then closed", status, err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(waitLimit))
	typ, data, err := second.ReadMessage()
	if err == nil {
		return fmt.Errorf("racing WebSocket got frame %d %q, want it closed", typ, data)
	}
	if closeErr := (*fws.CloseError)(nil); !errors.As(err, &closeErr) {
		return fmt.Errorf("racing WebSocket ended with %w, want a close frame", err)
	}
	return nil
}

// expectCarried wants the first WebSocket to have answered the probe and
// to carry the session: a message comes back on it.
func expectCarried(ws *fws.Conn) error {
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "3probe" {
		return fmt.Errorf("probe answered %q (%v), want 3probe", data, err)
	}
	if err := ws.WriteMessage(fws.TextMessage, []byte("4echo")); err != nil {
		return fmt.Errorf("message after the upgrade: %w", err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "4echo" {
		return fmt.Errorf("after the upgrade the WebSocket got %q (%v), want the echo", data, err)
	}
	return nil
}
