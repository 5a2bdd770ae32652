package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// presenceTestConfig serves /chat with presence of the rooms room-*;
// ADAPTER is replaced by each test.
const presenceTestConfig = `
ADAPTER
api:
  keys: [` + adminTestKey + `]
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
namespaces:
  /chat:
    auth: required
    presence:
      rooms: ["room-*"]
      claims: [name]
      max_members: MAX
      announce: true
    events:
      join:
        handler:
          join: {room: data.room, reply: '{"ok": true}'}
      leave:
        handler:
          leave: {room: data.room, reply: '{"ok": true}'}
      who:
        handler:
          presence: {room: data.room}
`

func presenceConfig(adapterSection string, maxMembers int) string {
	text := strings.Replace(presenceTestConfig, "ADAPTER", adapterSection, 1)
	return strings.Replace(text, "MAX", fmt.Sprint(maxMembers), 1)
}

// presenceToken signs a token for sub with a name claim and a secret-ish
// claim that presence must not show.
func presenceToken(t testing.TB, sub string) string {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "name": "Name of " + sub, "email": sub + "@example.com", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(metricsTestSecret))
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// presenceClient connects /chat on g as sub, returning an error rather
// than failing, so that goroutines can call it.
func presenceClient(g *liveGateway, token string) (*sioclient.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	c, err := sioclient.Dial(ctx, g.url)
	if err != nil {
		return nil, err
	}
	if _, err := c.Connect(ctx, "/chat", map[string]string{"token": token}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func emitRoom(c *sioclient.Client, event, room string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	_, err := c.EmitWithAck(ctx, "/chat", event, map[string]string{"room": room})
	return err
}

// apiPresence asks g's server API who is in room.
func apiPresence(t testing.TB, g *liveGateway, room string) gatehouse.Presence {
	t.Helper()
	status, body := adminGet(t, g.addr, "/api/v1/namespaces/"+url.PathEscape("/chat")+"/rooms/"+url.PathEscape(room)+"/presence", adminTestKey)
	if status != http.StatusOK {
		t.Fatalf("presence of %s: %d %s", room, status, body)
	}
	var p gatehouse.Presence
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("presence of %s: %v in %s", room, err, body)
	}
	return p
}

// membersOf is a presence's members as user -> sockets.
func membersOf(p gatehouse.Presence) map[string]int {
	out := make(map[string]int, len(p.Members))
	for _, m := range p.Members {
		out[m.User] = m.Sockets
	}
	return out
}

// startPresencePair starts two gateways of presenceConfig on one real
// redis-server, ready to answer for the cluster.
func startPresencePair(t *testing.T) (a, b *liveGateway) {
	t.Helper()
	url, _ := startStallableRedis(t)
	adapterSection := "adapter:\n  kind: redis\n  redis: {url: \"" + url + "\"}"
	a = startLiveGateway(t, presenceConfig(adapterSection, 1000), Registries{})
	b = startLiveGateway(t, presenceConfig(adapterSection, 1000), Registries{})
	awaitReady(t, a)
	awaitReady(t, b)
	return a, b
}

// churnUsers is how many users the clients of churnPresence belong to.
const churnUsers = 200

// churnClient is one client of the churn test and the rooms it is in.
type churnClient struct {
	user  string
	c     *sioclient.Client
	rooms map[string]bool
}

// churnPresence has 500 clients of 200 users connect, alternately to a and
// b (so each user's sockets are on both), join three of rooms, leave one
// of them, and a fifth of them disconnect; it returns what each client did
// (a nil rooms for those that disconnected). The clients still connected
// close when the test ends. seed varies the rooms chosen.
func churnPresence(t *testing.T, a, b *liveGateway, rooms []string, seed uint64) []*churnClient {
	t.Helper()
	const clients = 500
	all := make([]*churnClient, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				rng := rand.New(rand.NewPCG(uint64(i), seed))
				g := a
				if i%2 == 1 {
					g = b
				}
				// A user's sockets alternate between the nodes.
				cc := &churnClient{user: fmt.Sprintf("user-%03d", (i/2)%churnUsers), rooms: map[string]bool{}}
				c, err := presenceClient(g, presenceToken(t, cc.user))
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					continue
				}
				cc.c = c
				for _, k := range rng.Perm(len(rooms))[:3] {
					if err := emitRoom(c, "join", rooms[k]); err != nil {
						errs <- err
					}
					cc.rooms[rooms[k]] = true
				}
				// Leave one, join another back: churn.
				for room := range cc.rooms {
					if err := emitRoom(c, "leave", room); err != nil {
						errs <- err
					}
					delete(cc.rooms, room)
					break
				}
				if i%5 == 0 {
					c.Close()
					cc.c, cc.rooms = nil, nil
				}
				all[i] = cc
			}
		}()
	}
	for i := 0; i < clients; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, cc := range all {
			if cc != nil && cc.c != nil {
				cc.c.Close()
			}
		}
	})
	return all
}

// TestPresenceUnderChurnOnRedisEqualsTheTruth connects 500 clients of 200
// users to two gateways on one real redis-server, has them join and leave
// rooms and a fifth of them disconnect, then asks each gateway, through the
// server API and the presence handler, who is in every room: each answer
// equals what the clients did, users de-duplicated across nodes with their
// socket count, with the claims shown and no other.
func TestPresenceUnderChurnOnRedisEqualsTheTruth(t *testing.T) {
	a, b := startPresencePair(t)
	rooms := []string{"room-0", "room-1", "room-2", "room-3", "room-4"}

	all := churnPresence(t, a, b, rooms, 7)

	truth := make(map[string]map[string]int)
	sockets := make(map[string]int)
	for _, room := range rooms {
		truth[room] = map[string]int{}
	}
	for _, cc := range all {
		for room := range cc.rooms {
			truth[room][cc.user]++
			sockets[room]++
		}
	}
	// Closed clients leave their rooms once the gateway notices: wait for
	// the answer to settle, then compare exactly.
	deadline := time.Now().Add(limitsWait)
	for _, room := range rooms {
		for _, g := range []*liveGateway{a, b} {
			for {
				p := apiPresence(t, g, room)
				got := membersOf(p)
				if equalCounts(got, truth[room]) && p.Count == len(truth[room]) && p.Sockets == sockets[room] && p.Partial == "" {
					for _, m := range p.Members {
						if len(m.Claims) != 1 || m.Claims["name"] != "Name of "+m.User {
							t.Fatalf("%s: claims of %s are %v, want only name", room, m.User, m.Claims)
						}
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s on %s: %d users %d sockets (partial %q), want %d users %d sockets; differing: %v",
						room, g.addr, p.Count, p.Sockets, p.Partial, len(truth[room]), sockets[room], diffCounts(got, truth[room]))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	// The handler answers the same as the API, on the other node.
	var asker *sioclient.Client
	for _, cc := range all {
		if cc.c != nil {
			asker = cc.c
			break
		}
	}
	ack := ackOf(t, asker, "/chat", "who", map[string]string{"room": "room-2"})
	raw, _ := json.Marshal(ack)
	var p gatehouse.Presence
	if err := json.Unmarshal(raw, &p); err != nil || p.Room != "room-2" || !equalCounts(membersOf(p), truth["room-2"]) || p.Count != len(truth["room-2"]) {
		t.Fatalf("who room-2: %s (err %v)", raw, err)
	}
	if ack := ackOf(t, asker, "/chat", "who", map[string]string{"room": "lobby"}); errorCode(ack) != "invalid_payload" {
		t.Fatalf("who of a room without presence: %v", ack)
	}
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func diffCounts(got, want map[string]int) []string {
	var out []string
	for k, v := range want {
		if got[k] != v {
			out = append(out, fmt.Sprintf("%s: %d want %d", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %d want 0", k, v))
		}
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// TestPresenceDropsADeadNodesMembersWithinTheRequestTimeout has a node stop
// answering (its adapter closed, its sockets still open, as a process that
// hangs or is cut off from Redis): the other node's next answer no longer
// holds its members, and comes within the adapter's request timeout (2s).
func TestPresenceDropsADeadNodesMembersWithinTheRequestTimeout(t *testing.T) {
	a, b := startPresencePair(t)
	for _, who := range []struct {
		g    *liveGateway
		user string
	}{{a, "alice"}, {b, "bob"}, {b, "carol"}} {
		c, err := presenceClient(who.g, presenceToken(t, who.user))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := emitRoom(c, "join", "room-x"); err != nil {
			t.Fatal(err)
		}
	}
	if got := membersOf(apiPresence(t, a, "room-x")); !equalCounts(got, map[string]int{"alice": 1, "bob": 1, "carol": 1}) {
		t.Fatalf("before: %v", got)
	}
	if err := b.gw.Adapter().Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p := apiPresence(t, a, "room-x")
	took := time.Since(start)
	if got := membersOf(p); !equalCounts(got, map[string]int{"alice": 1}) || p.Count != 1 {
		t.Fatalf("after the node died: %+v", p)
	}
	// The bound declared in docs: the adapter's request timeout (2s by
	// default), with a generous margin for a loaded machine.
	if took > 2*time.Second+3*time.Second {
		t.Fatalf("the answer took %s", took)
	}
}

// TestPresenceAnswerIsBoundedByMaxMembers joins 300 users to one room of a
// namespace whose presence lists at most 50: the answer lists the first 50
// by user id and counts all 300, and the gateway's heap after the answers
// stays near what the clients hold, not growing with the asks.
func TestPresenceAnswerIsBoundedByMaxMembers(t *testing.T) {
	g := startLiveGateway(t, presenceConfig("", 50), Registries{})
	const users = 300
	for i := 0; i < users; i++ {
		c, err := presenceClient(g, presenceToken(t, fmt.Sprintf("u%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := emitRoom(c, "join", "room-big"); err != nil {
			t.Fatal(err)
		}
	}
	p := apiPresence(t, g, "room-big")
	if len(p.Members) != 50 || p.Count != users || p.Sockets != users || p.Members[0].User != "u000" || p.Members[49].User != "u049" {
		t.Fatalf("answer: %d members (first %v), count %d", len(p.Members), p.Members[:1], p.Count)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	for i := 0; i < 200; i++ {
		apiPresence(t, g, "room-big")
	}
	// Presence keeps nothing between answers: 200 asks must not hold
	// memory (1 MB of slack for the runtime's own noise).
	if after := heap(); after > before+1<<20 {
		t.Fatalf("heap grew from %d to %d over 200 presence answers", before, after)
	}
}

// presenceEvents gathers the presence:join and presence:leave events c
// receives as "join user" and "leave user", for wait.
func presenceEvents(t *testing.T, c *sioclient.Client, wait time.Duration) []string {
	t.Helper()
	var out []string
	timeout := time.After(wait)
	for {
		select {
		case ev := <-c.Events():
			if ev.Name != "presence:join" && ev.Name != "presence:leave" {
				continue
			}
			var body struct {
				Room   string         `json:"room"`
				User   string         `json:"user"`
				Claims map[string]any `json:"claims"`
			}
			if len(ev.Args) != 1 || json.Unmarshal(ev.Args[0], &body) != nil || body.Room != "room-a" {
				t.Fatalf("%s: %s", ev.Name, ev.Args)
			}
			if len(body.Claims) != 1 || body.Claims["name"] != "Name of "+body.User {
				t.Fatalf("%s shows claims %v", ev.Name, body.Claims)
			}
			out = append(out, strings.TrimPrefix(ev.Name, "presence:")+" "+body.User)
		case <-timeout:
			return out
		}
	}
}

// TestPresenceAnnouncesAUsersFirstJoinAndLastLeaveAcrossNodes puts alice on
// one gateway and bob's two sockets on the other, both on redis-server:
// alice is told once that bob joined (not of his second socket) and once
// that he left (when his last socket goes), with the claims shown.
func TestPresenceAnnouncesAUsersFirstJoinAndLastLeaveAcrossNodes(t *testing.T) {
	a, b := startPresencePair(t)
	connect := func(g *liveGateway, user string) *sioclient.Client {
		c, err := presenceClient(g, presenceToken(t, user))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice := connect(a, "alice")
	if err := emitRoom(alice, "join", "room-a"); err != nil {
		t.Fatal(err)
	}
	bob1, bob2 := connect(b, "bob"), connect(b, "bob")
	for _, c := range []*sioclient.Client{bob1, bob2} {
		if err := emitRoom(c, "join", "room-a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := emitRoom(bob2, "leave", "room-a"); err != nil {
		t.Fatal(err)
	}
	bob1.Close()
	got := presenceEvents(t, alice, time.Second)
	if strings.Join(got, ", ") != "join bob, leave bob" {
		t.Fatalf("alice was told %q, want join bob then leave bob", got)
	}
	if got := presenceEvents(t, bob2, 200*time.Millisecond); len(got) != 0 {
		t.Fatalf("bob's socket that left was told %q", got)
	}
}

// TestPresenceWithRedisStalledAnswers503WithinTheRequestTimeout stalls the
// redis-server (SIGSTOP): the server API answers 503 upstream_error, as
// the room size does, within the request timeout rather than hanging.
func TestPresenceWithRedisStalledAnswers503WithinTheRequestTimeout(t *testing.T) {
	url, stall := startStallableRedis(t)
	adapterSection := "adapter:\n  kind: redis\n  redis: {url: \"" + url + "\"}"
	g := startLiveGateway(t, presenceConfig(adapterSection, 1000), Registries{})
	awaitReady(t, g)
	c, err := presenceClient(g, presenceToken(t, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := emitRoom(c, "join", "room-s"); err != nil {
		t.Fatal(err)
	}
	resume := stall()
	defer resume()
	start := time.Now()
	status, body := adminGet(t, g.addr, "/api/v1/namespaces/"+url2path("/chat")+"/rooms/room-s/presence", adminTestKey)
	took := time.Since(start)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"upstream_error"`) {
		t.Fatalf("with Redis stalled: %d %s", status, body)
	}
	if took > 2*time.Second+3*time.Second {
		t.Fatalf("the answer took %s", took)
	}
}

func url2path(s string) string { return url.PathEscape(s) }
