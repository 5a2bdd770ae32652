package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// TestMoveOfASessionWithTooMuchQueuedIsCountedRefused has a's polling
// session leave over 4 MiB of broadcasts unread, then upgrades it at b: a
// refuses to let it go (move_queue), b closes the WebSocket and counts the
// move refused, not failed.
func TestMoveOfASessionWithTooMuchQueuedIsCountedRefused(t *testing.T) {
	redisURL, _ := startStallableRedis(t)
	a := startUnhurriedMoveGateway(t, redisURL, "move-refused")
	b := startUnhurriedMoveGateway(t, redisURL, "move-refused")

	sid := openAnyNodePolling(t, a.addr)
	pollingRequest(t, http.MethodPost, a.addr, sid, `40{"token":"`+moveToken(t, "alice")+`"}`)
	pollUntil(t, a.addr, sid, "40{")
	pollingRequest(t, http.MethodPost, a.addr, sid, `421["join",{"room":"r1"}]`)
	pollUntil(t, a.addr, sid, "431")

	// Five broadcasts of 900 KB to the room, which the session leaves
	// unread: 4.4 MiB queued for it on a. Each is 900 KB through the race
	// detector on a loaded machine: the sender gets a minute for them all.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sender, err := sioclient.Dial(ctx, a.url)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	if _, err := sender.Connect(ctx, "/", map[string]string{"token": moveToken(t, "bob")}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 900_000)
	for i := range 5 {
		if _, err := sender.EmitWithAck(ctx, "/", "sayTo", map[string]any{"room": "r1", "big": big}); err != nil {
			t.Fatalf("broadcast %d: %v", i, err)
		}
	}

	u := "ws://" + b.addr + "/socket.io/?EIO=4&transport=websocket&sid=" + url.QueryEscape(sid)
	ws, _, err := fws.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(limitsWait))
	if err := ws.WriteMessage(fws.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, pong, err := ws.ReadMessage(); err != nil || string(pong) != "3probe" {
		t.Fatalf("probe answered %q, %v", pong, err)
	}
	if err := ws.WriteMessage(fws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.ReadMessage(); err == nil {
		t.Fatalf("after the upgrade packet: %q; want the WebSocket closed", data)
	}

	onB, onA := scrape(t, b.addr), scrape(t, a.addr)
	moves := func(result string) float64 {
		return onB[series("gatehouse_session_moves_total", "result", result)]
	}
	if moves("refused") != 1 || moves("failed") != 0 || moves("moved") != 0 {
		t.Errorf("b counts moves refused %v, failed %v, moved %v; want 1, 0, 0", moves("refused"), moves("failed"), moves("moved"))
	}
	if got := onA[series("gatehouse_limit_refusals_total", "limit", limitMoveQueue)]; got != 1 {
		t.Errorf("a counts %v move_queue refusals, want 1", got)
	}
}

// startUnhurriedMoveGateway is startMoveGateway with a pong due two minutes
// after the ping instead of 3 s. A session that leaves its queue unread
// answers no ping, and the broadcasts that fill it may take most of their
// minute through the race detector on a loaded machine: with 3 s the
// session ended by its ping timeout before the probe, which then found no
// session to move.
func startUnhurriedMoveGateway(t *testing.T, redisURL, prefix string) *liveGateway {
	t.Helper()
	const heartbeat, unhurried = "ping_timeout: 3s", "ping_timeout: 2m"
	if !strings.Contains(moveTestConfig, heartbeat) {
		t.Fatalf("moveTestConfig has no %q to lengthen", heartbeat)
	}
	text := strings.NewReplacer("REDIS", redisURL, "PREFIX", prefix, "LISTEN", freeMoveAddr(t), heartbeat, unhurried).Replace(moveTestConfig)
	g := startLiveGateway(t, text, Registries{})
	awaitReady(t, g)
	return g
}
