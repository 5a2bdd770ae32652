package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/redis/go-redis/v9"
)

// Attacks on what connection state recovery and room history keep (contract
// C6, docs/security.md "Recovery and room history"), with real sockets on a
// real listening gateway: each measures what the process (or Redis) holds
// afterwards against the bound the docs declare.

// recoveryConn is an attacker's Engine.IO session read only when the test
// says so: it can stop reading, so that what the gateway writes to it
// waits, as a client on a stalled network does.
type recoveryConn struct {
	t  testing.TB
	ws *websocket.Conn
}

// dialRecovery opens a WebSocket session on g. A client that stops
// reading it has a few megabytes in flight before the gateway's writes to
// it wait: the kernel's buffers (the sender's grows to tcp_wmem's 4 MiB, the
// receiver's grows only as it reads).
func dialRecovery(t testing.TB, g *liveGateway) *recoveryConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, g.url+"?EIO=4&transport=websocket", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &recoveryConn{t: t, ws: ws}
	t.Cleanup(func() {
		if c.ws != nil {
			_ = c.ws.Close()
		}
	})
	if open := c.next(); open == "" || open[0] != '0' {
		t.Fatalf("no open packet: %q", open)
	}
	return c
}

// send writes one text frame.
func (c *recoveryConn) send(s string) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(limitsWait))
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads the next Engine.IO packet other than a ping, which it answers;
// "" when the session ends or nothing comes within queueWait.
func (c *recoveryConn) next() string {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(queueWait))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return ""
		}
		if string(data) == "2" {
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(data)
	}
}

// await reads until a Socket.IO packet (the Engine.IO "4" left out) that
// starts with prefix, and returns it with those read before it.
func (c *recoveryConn) await(prefix string) (string, []string) {
	c.t.Helper()
	var before []string
	for {
		p := c.next()
		if p == "" {
			c.t.Fatalf("session ended before a packet %q; read %d before", prefix, len(before))
		}
		if strings.HasPrefix(p, "4"+prefix) {
			return p[1:], before
		}
		before = append(before, p)
	}
}

// connect sends a namespace CONNECT with auth (nil for none) and returns
// the private session id of the ack ("" when it has none).
func (c *recoveryConn) connect(nsp string, auth any) string {
	c.t.Helper()
	packet := "40" + nsp + ","
	if auth != nil {
		data, err := json.Marshal(auth)
		if err != nil {
			c.t.Fatal(err)
		}
		packet += string(data)
	}
	c.send(packet)
	ack, _ := c.await("0" + nsp + ",")
	var body struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(ack, "0"+nsp+",")), &body); err != nil || body.SID == "" {
		c.t.Fatalf("CONNECT %s answered %q", nsp, ack)
	}
	return body.PID
}

// emit sends the event say with data on nsp.
func (c *recoveryConn) emit(nsp, data string) {
	c.t.Helper()
	arg, _ := json.Marshal(data)
	c.send("42" + nsp + `,["say",` + string(arg) + `]`)
}

// drop ends the connection without a close frame, as a lost network does:
// a recoverable disconnection. The client's buffers go with it, so that
// tests measuring the heap count the gateway's memory, not the clients'.
func (c *recoveryConn) drop() {
	_ = c.ws.UnderlyingConn().Close()
	c.ws = nil
}

// awaitSockets waits until nsp has n sockets on g.
func awaitSockets(t testing.TB, g *liveGateway, nsp string, n int) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for len(g.gw.sockets.Sockets(nsp)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d sockets, want %d", nsp, len(g.gw.sockets.Sockets(nsp)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recoveryConfig serves /chat, which recovers with the given bounds and
// broadcasts say to every socket, and /fill, which does the same without
// recovery; the flood limit is out of the way. adapter is the YAML of the
// adapter, "" for the memory one.
func recoveryConfig(recovery string, adapter ...string) string {
	return strings.Join(adapter, "\n") + `
server:
  limits:
    flood: {rate: 100000, burst: 100000}
namespaces:
  /fill:
    events:
      say:
        handler: {broadcast: {event: said, data: data}}
  /chat:
    recovery: ` + recovery + `
    events:
      say:
        handler: {broadcast: {event: said, data: data}}
`
}

// TestRecoveringSocketThatStallsHoldsAtMostMaxBytesOfLivePackets recovers a
// session on a connection whose client has stopped reading, so that the
// CONNECT ack cannot be written and the catch-up never ends, while another
// client broadcasts large packets: what the socket holds for after its
// catch-up must stay within the namespace's max_bytes, and the socket be
// closed past it rather than keep them all (the count alone, 10 000, allows
// 10 000 packets of max_payload).
func TestRecoveringSocketThatStallsHoldsAtMostMaxBytesOfLivePackets(t *testing.T) {
	// Under the race detector the stalled write's deadline passes before
	// the broadcasts are done.
	skipHeavyUnderRace(t)
	const maxBytes = 1 << 20
	g := startLiveGateway(t, recoveryConfig(`{max_disconnection: 1m, max_bytes: 1MB}`), Registries{})
	sender := dialRecovery(t, g)
	sender.connect("/chat", nil)
	first := dialRecovery(t, g)
	pid := first.connect("/chat", nil)
	if pid == "" {
		t.Fatal("the CONNECT ack of a namespace that recovers has no pid")
	}
	first.drop()
	awaitSockets(t, g, "/chat", 1)

	// The attacker's new session has its connection filled with
	// broadcasts it does not read, then asks to recover: the ack waits
	// behind them.
	attacker := dialRecovery(t, g)
	attacker.connect("/fill", nil)
	filler := dialRecovery(t, g)
	filler.connect("/fill", nil)
	const fills, fillSize = 16, 512 << 10
	for range fills {
		filler.emit("/fill", strings.Repeat("f", fillSize))
		filler.await(`2/fill,["said"`)
	}
	attacker.send(`40/chat,{"pid":"` + pid + `","offset":""}`)
	awaitSockets(t, g, "/chat", 2)

	before := heapInUse()
	const packets, size = 64, 256 << 10
	for i := range packets {
		sender.emit("/chat", strings.Repeat(string(rune('a'+i%26)), size))
		sender.await(`2/chat,["said"`)
	}
	held := heapInUse() - before
	// The stream keeps max_bytes, the stalled socket at most max_bytes
	// more; the rest is the runtime's slack.
	budget := int64(2*maxBytes + 2<<20)
	t.Logf("%d packets of %d KiB broadcast while a recovering socket stalls: heap +%s (budget %s)", packets, size>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("a stalled recovering socket made the gateway hold %s, budget %s", mib(held), mib(budget))
	}
	if n := len(g.gw.sockets.Sockets("/chat")); n != 1 {
		t.Errorf("/chat has %d sockets while the attacker stalls: the one holding past max_bytes was not closed", n)
	}

	// Read on: the attacker gets its ack, then the namespace's DISCONNECT,
	// and not one of the packets (no partial replay).
	_, beforeAck := attacker.await("0/chat,")
	_, afterAck := attacker.await("1/chat,")
	for _, p := range append(beforeAck, afterAck...) {
		if strings.HasPrefix(p, "42/chat,") {
			t.Fatalf("the closed socket was sent a packet of /chat: %.40q", p)
		}
	}
}

// streamAttack has one client broadcast n packets of size bytes to /chat,
// each read back before the next, so that the gateway records every one.
func streamAttack(t *testing.T, g *liveGateway, n, size int) {
	t.Helper()
	sender := dialRecovery(t, g)
	sender.connect("/chat", nil)
	for i := range n {
		sender.emit("/chat", strings.Repeat(string(rune('a'+i%26)), size))
		sender.await(`2/chat,["said"`)
	}
}

// TestRecoveryStreamHoldsAtMostMaxBytesAndMaxPackets broadcasts many large,
// then many small packets to a namespace that recovers: what the process
// keeps of its stream stays within max_bytes, then within max_packets.
func TestRecoveryStreamHoldsAtMostMaxBytesAndMaxPackets(t *testing.T) {
	skipHeavyUnderRace(t)
	tests := []struct {
		name     string
		recovery string
		n, size  int
		budget   int64
	}{
		// 16 MiB sent, at most 2 MiB kept.
		{"large packets, max_bytes", `{max_bytes: 2MB}`, 64, 256 << 10, 2<<20 + 2<<20},
		// 4 000 packets sent, at most 100 kept with their headers.
		{"small packets, max_packets", `{max_packets: 100}`, edgeScale(4000, 40000), 1 << 10, 100*(1<<10+512) + 2<<20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startLiveGateway(t, recoveryConfig(tc.recovery), Registries{})
			before := heapInUse()
			streamAttack(t, g, tc.n, tc.size)
			held := heapInUse() - before
			t.Logf("%d packets of %d KiB: heap +%s (budget %s)", tc.n, tc.size>>10, mib(held), mib(tc.budget))
			if held > tc.budget {
				t.Errorf("the stream of %d packets of %d bytes holds %s, budget %s", tc.n, tc.size, mib(held), mib(tc.budget))
			}
		})
	}
}

// redisOf is a client of the redis-server at url, closed when the test ends.
func redisOf(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// TestRecoveryStreamInRedisHoldsAtMostMaxBytesAndMaxPackets is the same
// attack with the Redis adapter: the stream is in Redis, and Redis keeps of
// it no more than max_bytes and max_packets.
func TestRecoveryStreamInRedisHoldsAtMostMaxBytesAndMaxPackets(t *testing.T) {
	skipHeavyUnderRace(t)
	url, _ := startStallableRedis(t)
	rdb := redisOf(t, url)
	tests := []struct {
		name        string
		recovery    string
		n, size     int
		maxEntries  int64
		memoryBound int64
	}{
		// 16 MiB sent, 2 MiB kept (the JSON of each packet, a little
		// more than its argument, and Redis's own overhead).
		{"large packets, max_bytes", `{max_bytes: 2MB}`, 64, 256 << 10, 8, 2<<20 + 256<<10},
		// 2 000 packets sent, 100 kept.
		{"small packets, max_packets", `{max_packets: 100}`, 2000, 1 << 10, 100, 100 * (1<<10 + 512)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "edge" + string(rune('a'+i))
			g := startLiveGateway(t, recoveryConfig(tc.recovery, `
adapter:
  kind: redis
  redis: {url: "`+url+`", prefix: `+prefix+`}`), Registries{})
			streamAttack(t, g, tc.n, tc.size)
			ctx := context.Background()
			key := prefix + ":stream:/chat"
			entries, err := rdb.XLen(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			usage, err := rdb.MemoryUsage(ctx, key, 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d packets of %d KiB: Redis keeps %d entries in %d KiB (bound %d KiB)", tc.n, tc.size>>10, entries, usage>>10, tc.memoryBound>>10)
			if entries > tc.maxEntries || usage > tc.memoryBound {
				t.Errorf("the stream in Redis keeps %d entries in %d KiB, want at most %d in %d KiB", entries, usage>>10, tc.maxEntries, tc.memoryBound>>10)
			}
		})
	}
}

// TestRecoverySessionsKeptForDroppedClientsCostLittleEach has many clients
// connect to a namespace that recovers and lose their connection: each is
// kept for recovery, at about the documented cost (its ids, rooms and
// start offset; not its connection), and recovers once.
func TestRecoverySessionsKeptForDroppedClientsCostLittleEach(t *testing.T) {
	const perSession = 1536
	g := startLiveGateway(t, withQuickPings(recoveryConfig(`{max_disconnection: 1m}`)), Registries{})
	n := edgeScale(200, 2000)
	// As many clients that leave on purpose first, so that what any
	// connection leaves behind (pools, the server's workers) is in the
	// baseline, not counted as the sessions'.
	for range n {
		c := dialRecovery(t, g)
		c.connect("/chat", nil)
		c.send("41/chat,")
		c.drop()
	}
	awaitSockets(t, g, "/chat", 0)
	waitForSessions(t, g, 0)
	pids := make([]string, n)
	before := heapInUse()
	for i := range pids {
		c := dialRecovery(t, g)
		pids[i] = c.connect("/chat", nil)
		c.drop()
	}
	awaitSockets(t, g, "/chat", 0)
	waitForSessions(t, g, 0)
	held := heapInUse() - before
	t.Logf("%d sessions kept for recovery: heap +%s, %d B each (budget %d B)", n, mib(held), held/int64(n), perSession)
	if held > int64(n)*perSession {
		t.Errorf("%d kept sessions hold %s, %d B each; budget %d B", n, mib(held), held/int64(n), perSession)
	}
	for _, pid := range pids[:3] {
		c := dialRecovery(t, g)
		if got := c.connect("/chat", map[string]string{"pid": pid, "offset": ""}); got != pid {
			t.Fatalf("a kept session was not recovered: pid %q, want %q", got, pid)
		}
	}
}

// withQuickPings makes a gateway notice within 2 s a client that went away
// without a word, whichever way its read path learns of a closed
// connection.
func withQuickPings(config string) string {
	return strings.Replace(config, "server:\n", "server:\n  ping_interval: 1s\n  ping_timeout: 1s\n", 1)
}

// waitForSessions waits until the gateway holds n Engine.IO sessions.
func waitForSessions(t testing.TB, g *liveGateway, n int) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for g.gw.engine.SessionCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Engine.IO sessions still open", g.gw.engine.SessionCount())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestForgedRecoveryRequestsGetANewSessionAndKeepNothing sends CONNECTs
// whose pid and offset are forged (unknown, malformed, huge, of another
// type): each gets a clean new session with a pid of its own (not
// recovered, so nothing replayed), and once the clients leave the gateway keeps nothing of them.
func TestForgedRecoveryRequestsGetANewSessionAndKeepNothing(t *testing.T) {
	g := startLiveGateway(t, withQuickPings(recoveryConfig(`{max_disconnection: 1m}`)), Registries{})
	sender := dialRecovery(t, g)
	sender.connect("/chat", nil)
	sender.emit("/chat", "before")
	sender.await(`2/chat,["said"`)
	sender.drop()
	huge := strings.Repeat("p", 512<<10)
	forged := []map[string]any{
		{"pid": "AAAAAAAAAAAAAAAAAAAAAA", "offset": "0-0"},
		{"pid": "AAAAAAAAAAAAAAAAAAAAAA", "offset": "99999999999999999999-99999999999999999999"},
		{"pid": "AAAAAAAAAAAAAAAAAAAAAA", "offset": "not an offset"},
		{"pid": huge, "offset": "0-1"},
		{"pid": "AAAAAAAAAAAAAAAAAAAAAA", "offset": huge},
		{"pid": 12, "offset": []int{1, 2}},
		{"pid": map[string]string{"a": "b"}},
	}
	rounds := edgeScale(20, 200)
	before := heapInUse()
	for range rounds {
		for _, auth := range forged {
			c := dialRecovery(t, g)
			pid := c.connect("/chat", auth)
			if pid == "" || pid == auth["pid"] {
				t.Fatalf("auth %.60v: pid %q, want a new one", auth, pid)
			}
			c.send("41/chat,") // leaves on purpose: nothing kept
			c.drop()
		}
	}
	awaitSockets(t, g, "/chat", 0)
	waitForSessions(t, g, 0)
	held := heapInUse() - before
	const budget = 1 << 20
	t.Logf("%d forged recovery requests (pids and offsets up to 512 KiB): heap +%s (budget %s)", rounds*len(forged), mib(held), mib(budget))
	if held > budget {
		t.Errorf("forged recovery requests left %s held, budget %s", mib(held), mib(budget))
	}
}

// historyConfig serves /chat, whose say sends data.message to the room
// data.room, which any client may name, and keeps the history of every room.
func historyConfig(history string) string {
	return `
server:
  limits:
    flood: {rate: 100000, burst: 100000}
api:
  keys: [` + adminTestKey + `]
namespaces:
  /chat:
    history: ` + history + `
    events:
      say:
        handler: {broadcast: {to: data.room, event: said, data: data.message, reply: '{"ok": true}'}}
`
}

// sendToRooms has one client send n messages of size bytes, the i-th to
// the room room(i), each answered before the next.
func sendToRooms(t *testing.T, g *liveGateway, n, size int, room func(i int) string) {
	t.Helper()
	c := dialRecovery(t, g)
	c.connect("/chat", nil)
	for i := range n {
		body, _ := json.Marshal(map[string]string{"room": room(i), "message": strings.Repeat(string(rune('a'+i%26)), size)})
		c.send("42/chat,1" + `["say",` + string(body) + `]`)
		c.await("3/chat,1")
	}
}

// TestRoomHistoryHoldsAtMostSizePerRoomAndMaxBytesAcrossRooms sends large
// messages to many rooms a client chose, then many to one room: the process
// keeps at most max_bytes for every room together, and size messages of one
// room.
func TestRoomHistoryHoldsAtMostSizePerRoomAndMaxBytesAcrossRooms(t *testing.T) {
	skipHeavyUnderRace(t)
	tests := []struct {
		name    string
		n, size int
		room    func(i int) string
		budget  int64
	}{
		// 16 MiB to 256 rooms, at most 2 MiB kept.
		{"many rooms, max_bytes", 256, 64 << 10, func(i int) string { return "room-" + string(rune('A'+i%26)) + string(rune('A'+i/26)) }, 2<<20 + 2<<20},
		// 4 MiB to one room, 10 messages kept.
		{"one room, size", 256, 16 << 10, func(int) string { return "lobby" }, 10*(16<<10) + 2<<20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startLiveGateway(t, historyConfig(`{size: 10, max_bytes: 2MB}`), Registries{})
			before := heapInUse()
			sendToRooms(t, g, tc.n, tc.size, tc.room)
			held := heapInUse() - before
			t.Logf("%d messages of %d KiB: heap +%s (budget %s)", tc.n, tc.size>>10, mib(held), mib(tc.budget))
			if held > tc.budget {
				t.Errorf("room history of %d messages of %d bytes holds %s, budget %s", tc.n, tc.size, mib(held), mib(tc.budget))
			}
		})
	}
}

// TestRoomHistoryAnswersAtMostSizeWhateverTheQueryAsks asks the server API
// for far more messages than a room keeps, since its start, and with
// offsets that are no offsets: the answer holds at most the room's size,
// and a malformed offset is refused.
func TestRoomHistoryAnswersAtMostSizeWhateverTheQueryAsks(t *testing.T) {
	g := startLiveGateway(t, historyConfig(`{size: 10}`), Registries{})
	sendToRooms(t, g, 30, 16, func(int) string { return "lobby" })
	tests := []struct {
		query  string
		status int
		count  int
	}{
		{"?limit=2147483647", http.StatusOK, 10},
		{"?limit=99999999999999999999", http.StatusBadRequest, 0},
		{"?since=0-0&limit=1000000", http.StatusOK, 10},
		{"?since=99999999999999999999-0", http.StatusBadRequest, 0},
		{"?since=" + strings.Repeat("9", 4096), http.StatusBadRequest, 0},
		{"?since=18446744073709551615-18446744073709551615", http.StatusOK, 0},
	}
	for _, tc := range tests {
		status, body := adminGet(t, g.addr, "/api/v1/namespaces/chat/rooms/lobby/history"+tc.query, adminTestKey)
		var answer struct {
			Messages []json.RawMessage `json:"messages"`
		}
		_ = json.Unmarshal(body, &answer)
		if status != tc.status || len(answer.Messages) != tc.count {
			t.Errorf("history%s: status %d, %d messages; want %d, %d (%.200s)", tc.query, status, len(answer.Messages), tc.status, tc.count, body)
		}
	}
}

// TestRoomHistoryInRedisHoldsAtMostSizePerRoom sends many large messages
// to one room with the Redis adapter: Redis keeps size of them, and the
// stream expires with ttl.
func TestRoomHistoryInRedisHoldsAtMostSizePerRoom(t *testing.T) {
	skipHeavyUnderRace(t)
	url, _ := startStallableRedis(t)
	rdb := redisOf(t, url)
	g := startLiveGateway(t, `
adapter:
  kind: redis
  redis: {url: "`+url+`", prefix: edgeh}
`+historyConfig(`{size: 10, ttl: 1m}`), Registries{})
	const n, size = 128, 64 << 10
	sendToRooms(t, g, n, size, func(int) string { return "lobby" })
	ctx := context.Background()
	key := "edgeh:history:/chat:lobby"
	entries, err := rdb.XLen(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	usage, err := rdb.MemoryUsage(ctx, key, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Redis's allocator rounds a 64 KiB entry up to its 80 KiB class.
	bound := int64(10 * (size + size/2))
	t.Logf("%d messages of %d KiB to one room: Redis keeps %d in %d KiB (bound %d KiB), expiring in %s", n, size>>10, entries, usage>>10, bound>>10, ttl)
	if entries > 10 || usage > bound || ttl <= 0 || ttl > time.Minute {
		t.Errorf("the room's history in Redis keeps %d messages in %d KiB, expiring in %s; want at most 10 in %d KiB, within 1m", entries, usage>>10, ttl, bound>>10)
	}
}

// TestRoomHistoryInRedisHoldsAtMostMaxBytesAcrossRooms sends 16 MiB to 256
// rooms a client chose with the Redis adapter: Redis keeps at most
// max_bytes of every room together (Redis's own account of the keys,
// bookkeeping included), every key expires with ttl, and each room's
// history answers what its stream and size record hold.
func TestRoomHistoryInRedisHoldsAtMostMaxBytesAcrossRooms(t *testing.T) {
	skipHeavyUnderRace(t)
	url, _ := startStallableRedis(t)
	rdb := redisOf(t, url)
	g := startLiveGateway(t, `
adapter:
  kind: redis
  redis: {url: "`+url+`", prefix: edgeb}
`+historyConfig(`{size: 10, ttl: 1m, max_bytes: 2MB}`), Registries{})
	const n, size = 256, 64 << 10
	room := func(i int) string { return "room-" + strconv.Itoa(i) }
	sendToRooms(t, g, n, size, room)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "edgeb:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var usage int64
	for _, key := range keys {
		used, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		usage += used
		if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("%s expires in %s (%v), want within 1m", key, ttl, err)
		}
	}
	// Redis's allocator rounds a 64 KiB entry up to its 80 KiB class.
	bound := int64(2<<20 + 2<<20/4 + 64<<10)
	kept := 0
	for i := range n {
		entries, _ := rdb.XLen(ctx, "edgeb:history:/chat:"+room(i)).Result()
		sizes, _ := rdb.LLen(ctx, "edgeb:history-sizes:/chat:"+room(i)).Result()
		status, body := adminGet(t, g.addr, "/api/v1/namespaces/chat/rooms/"+room(i)+"/history", adminTestKey)
		var answer struct {
			Messages []json.RawMessage `json:"messages"`
		}
		_ = json.Unmarshal(body, &answer)
		if entries != sizes || status != http.StatusOK || int64(len(answer.Messages)) != entries {
			t.Errorf("%s: %d entries, %d size records, history answers %d (status %d)", room(i), entries, sizes, len(answer.Messages), status)
		}
		kept += int(entries)
	}
	t.Logf("%d messages of %d KiB to %d rooms: Redis keeps %d of them in %d keys, %d KiB (bound %d KiB)", n, size>>10, n, kept, len(keys), usage>>10, bound>>10)
	if usage > bound {
		t.Errorf("the rooms' history in Redis takes %d KiB, want at most %d KiB", usage>>10, bound>>10)
	}
}

// TestRecoverySessionsInRedisExpireWithTheWindow has clients of a gateway
// on Redis lose their connection: each session is one key in Redis,
// expiring within max_disconnection, and a forged pid finds none.
func TestRecoverySessionsInRedisExpireWithTheWindow(t *testing.T) {
	url, _ := startStallableRedis(t)
	rdb := redisOf(t, url)
	g := startLiveGateway(t, recoveryConfig(`{max_disconnection: 30s}`, `
adapter:
  kind: redis
  redis: {url: "`+url+`", prefix: edges}`), Registries{})
	n := edgeScale(50, 500)
	for range n {
		c := dialRecovery(t, g)
		c.connect("/chat", nil)
		c.drop()
	}
	awaitSockets(t, g, "/chat", 0)
	ctx := context.Background()
	var keys []string
	deadline := time.Now().Add(limitsWait)
	for len(keys) < n && time.Now().Before(deadline) {
		var err error
		if keys, err = rdb.Keys(ctx, "edges:session:*").Result(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(keys) != n {
		t.Fatalf("Redis keeps %d sessions for %d lost sockets", len(keys), n)
	}
	var largest int64
	for _, key := range keys {
		ttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > 30*time.Second {
			t.Fatalf("session %s expires in %s (%v), want within max_disconnection", key, ttl, err)
		}
		usage, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil || usage > 1<<10 {
			t.Fatalf("session %s takes %d B in Redis (%v), want under 1 KiB", key, usage, err)
		}
		largest = max(largest, usage)
	}
	t.Logf("%d lost sockets: %d session keys in Redis, each at most %d B, expiring within 30s", n, len(keys), largest)
	c := dialRecovery(t, g)
	forged := strings.TrimPrefix(keys[0], "edges:session:") + "x"
	if pid := c.connect("/chat", map[string]string{"pid": forged, "offset": "0-0"}); pid == "" || pid == forged {
		t.Fatalf("a forged pid got pid %q, want a new session", pid)
	}
}
