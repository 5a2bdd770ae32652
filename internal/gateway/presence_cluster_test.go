package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/roster"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

// presenceClusterEvents are presenceTestConfig's events and two that ack
// what the presence expressions answer, for the cluster tests.
const presenceClusterEvents = `
      count:
        handler:
          reply: {value: '{"count": presence.count(data.room), "member": presence.member(data.room, data.user)}'}
`

// clusterPresenceConfig is presenceConfig on the redis-server at url, with
// the expression events.
func clusterPresenceConfig(url string) string {
	return presenceConfig("adapter:\n  kind: redis\n  redis: {url: \""+url+"\"}", 1000) + presenceClusterEvents
}

// testPresenceLease is the nodes' lease on their presence records in these
// tests: short, so that a dead node's users leave within seconds.
const testPresenceLease = 3 * time.Second

// startPresenceNodes starts n gateways on one real redis-server, with
// presence records leased for testPresenceLease.
func startPresenceNodes(t *testing.T, n int) []*liveGateway {
	t.Helper()
	url, _ := startStallableRedis(t)
	nodes := make([]*liveGateway, n)
	for i := range nodes {
		nodes[i] = serveLiveGateway(t, clusterPresenceConfig(url), Options{PresenceLease: testPresenceLease})
		awaitReady(t, nodes[i])
	}
	return nodes
}

// announcement is one presence:join or presence:leave as a client got it.
type heardAnnouncement struct {
	joined     bool
	room, user string
	claims     map[string]any
	at         time.Time
}

func (h heardAnnouncement) String() string {
	verb := "leave"
	if h.joined {
		verb = "join"
	}
	return verb + " " + h.user + " " + h.room
}

// listener gathers the announcements a client hears, until the test ends.
type listener struct {
	mu    sync.Mutex
	heard []heardAnnouncement
}

func listen(t *testing.T, c *sioclient.Client) *listener {
	l := &listener{}
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
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
				if len(ev.Args) != 1 || json.Unmarshal(ev.Args[0], &body) != nil {
					continue
				}
				l.mu.Lock()
				l.heard = append(l.heard, heardAnnouncement{joined: ev.Name == "presence:join", room: body.Room,
					user: body.User, claims: body.Claims, at: time.Now()})
				l.mu.Unlock()
			case <-done:
				return
			case <-c.Done():
				return
			}
		}
	}()
	return l
}

// take returns what was heard so far and forgets it.
func (l *listener) take() []heardAnnouncement {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.heard
	l.heard = nil
	return out
}

// await waits until n announcements have been heard (or max has passed),
// then until nothing more is heard for half a second, and returns all that
// was heard.
func (l *listener) await(n int, max time.Duration) []heardAnnouncement {
	var all []heardAnnouncement
	deadline := time.Now().Add(max)
	for idle := 0; (len(all) < n || idle < 10) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if got := l.take(); len(got) > 0 {
			all = append(all, got...)
			idle = 0
			continue
		}
		idle++
	}
	return all
}

// during returns what is heard for d.
func (l *listener) during(d time.Duration) []heardAnnouncement {
	time.Sleep(d)
	return l.take()
}

func mustClient(t *testing.T, g *liveGateway, user string) *sioclient.Client {
	t.Helper()
	c, err := presenceClient(g, presenceToken(t, user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustJoin(t *testing.T, c *sioclient.Client, room string) {
	t.Helper()
	if err := emitRoom(c, "join", room); err != nil {
		t.Fatal(err)
	}
}

func names(heard []heardAnnouncement) string {
	out := make([]string, len(heard))
	for i, h := range heard {
		out[i] = h.String()
	}
	return strings.Join(out, ", ")
}

// TestPresenceAnnouncesAUserOnTwoNodesOnceForTheCluster puts bob's sockets
// on both gateways of a cluster: the room's other members, on either node,
// are told once that bob joined (when his first socket anywhere joined),
// nothing when his socket on one node leaves, and once that he left when
// his last socket anywhere leaves, with the claims shown.
func TestPresenceAnnouncesAUserOnTwoNodesOnceForTheCluster(t *testing.T) {
	nodes := startPresenceNodes(t, 2)
	a, b := nodes[0], nodes[1]
	alice, carol := mustClient(t, a, "alice"), mustClient(t, b, "carol")
	heardA, heardC := listen(t, alice), listen(t, carol)
	mustJoin(t, alice, "room-a")
	mustJoin(t, carol, "room-a")
	// Recorded a moment after the ack: either may hear the other's join.
	heardA.during(time.Second)
	heardC.during(0)

	bobA, bobB := mustClient(t, a, "bob"), mustClient(t, b, "bob")
	mustJoin(t, bobA, "room-a")
	mustJoin(t, bobB, "room-a")
	for name, l := range map[string]*listener{"alice": heardA, "carol": heardC} {
		got := l.await(1, 5*time.Second)
		if names(got) != "join bob room-a" {
			t.Fatalf("%s heard %q of bob's two sockets on two nodes joining, want one join", name, names(got))
		}
		if len(got[0].claims) != 1 || got[0].claims["name"] != "Name of bob" {
			t.Fatalf("%s was shown the claims %v", name, got[0].claims)
		}
	}
	if err := emitRoom(bobA, "leave", "room-a"); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]*listener{"alice": heardA, "carol": heardC} {
		if got := l.during(time.Second); len(got) != 0 {
			t.Fatalf("%s heard %q when bob left on one node only", name, names(got))
		}
	}
	bobB.Close()
	for name, l := range map[string]*listener{"alice": heardA, "carol": heardC} {
		got := l.await(1, 5*time.Second)
		if names(got) != "leave bob room-a" {
			t.Fatalf("%s heard %q when bob's last socket went, want one leave", name, names(got))
		}
		if got[0].claims["name"] != "Name of bob" {
			t.Fatalf("%s was shown the claims %v on leave", name, got[0].claims)
		}
	}
}

// TestPresenceAnnouncesADeadNodesUsersLeavingOnceWithinTheLease kills a
// node of the cluster without any cleanup (its Redis connections closed
// under it, as a crash or a cut-off leaves them): within the lease and a
// sweep (4/3 of the lease) the room is told once that its users left, the
// users that still have a socket on a live node excepted; and a node that
// shuts down cleanly has its users' leaves announced once at once.
func TestPresenceAnnouncesADeadNodesUsersLeavingOnceWithinTheLease(t *testing.T) {
	nodes := startPresenceNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice := mustClient(t, a, "alice")
	mustJoin(t, alice, "room-d")
	for _, who := range []struct {
		g    *liveGateway
		user string
	}{{b, "bob"}, {b, "carol"}, {a, "carol"}, {c, "dave"}} {
		mustJoin(t, mustClient(t, who.g, who.user), "room-d")
	}
	heard := listen(t, alice)
	if got := heard.await(3, 5*time.Second); len(got) != 3 {
		t.Fatalf("alice heard %q, want bob, carol and dave joining", names(got))
	}

	if err := b.gw.Adapter().Close(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	got := heard.await(1, testPresenceLease*4/3+5*time.Second)
	if names(got) != "leave bob room-d" {
		t.Fatalf("after bob's node died alice heard %q, want bob leaving once (carol has a socket on a live node)", names(got))
	}
	// The bound: the lease, then the next sweep of a live node (every
	// third of the lease), with a margin for a loaded machine.
	if took := got[0].at.Sub(killed); took > testPresenceLease*4/3+2*time.Second {
		t.Fatalf("bob's leave came %s after his node died", took)
	}

	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	if err := c.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := heard.await(1, 5*time.Second); names(got) != "leave dave room-d" {
		t.Fatalf("after dave's node shut down alice heard %q, want dave leaving once", names(got))
	}
}

// TestPresenceUnderChurnAnnouncesTheTruthAndExpressionsAnswerIt connects
// 500 clients of 200 users to two gateways on one real redis-server, each
// user's sockets on both, joining and leaving rooms and a fifth of them
// disconnecting, while a listener on each node hears the announcements:
// for every room and user each listener hears joins and leaves
// alternating, the last telling the truth (in the room or not), and the
// presence expressions on both nodes answer the room's whole count and
// membership once the cache's bound has passed.
func TestPresenceUnderChurnAnnouncesTheTruthAndExpressionsAnswerIt(t *testing.T) {
	nodes := startPresenceNodes(t, 2)
	a, b := nodes[0], nodes[1]
	rooms := []string{"room-0", "room-1", "room-2", "room-3", "room-4"}
	var listeners []*listener
	var askers []*sioclient.Client
	for i, g := range nodes {
		c := mustClient(t, g, fmt.Sprintf("listener-%d", i))
		for _, room := range rooms {
			mustJoin(t, c, room)
		}
		listeners = append(listeners, listen(t, c))
		askers = append(askers, c)
	}
	for _, l := range listeners {
		l.during(time.Second) // the listeners' own joins
	}

	all := churnPresence(t, a, b, rooms, 11)

	truth := make(map[string]map[string]bool)
	for _, room := range rooms {
		truth[room] = map[string]bool{"listener-0": true, "listener-1": true}
	}
	for _, cc := range all {
		for room := range cc.rooms {
			truth[room][cc.user] = true
		}
	}
	for i, l := range listeners {
		heard := l.await(1, 15*time.Second)
		last := make(map[string]bool) // "room user" -> joined
		for _, h := range heard {
			key := h.room + " " + h.user
			if was, seen := last[key]; (seen && was == h.joined) || (!seen && !h.joined) {
				t.Fatalf("listener %d heard %s out of turn (joins and leaves of a user must alternate, from a join)", i, h)
			}
			last[key] = h.joined
		}
		for _, room := range rooms {
			for u := 0; u < churnUsers; u++ {
				user := fmt.Sprintf("user-%03d", u)
				if in := last[room+" "+user]; in != truth[room][user] {
					t.Fatalf("listener %d: %s is in %s: %v by the announcements, %v in truth", i, user, room, in, truth[room][user])
				}
			}
		}
	}
	checkPresenceExpressions(t, askers, rooms, truth)
}

// checkPresenceExpressions asks each node, through the presence
// expressions, the size of each room and whether some users are in it,
// until every answer is the truth or the cache's bound has passed.
func checkPresenceExpressions(t *testing.T, askers []*sioclient.Client, rooms []string, truth map[string]map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(roster.DefaultMaxAge + 3*time.Second)
	for i, asker := range askers {
		for _, room := range rooms {
			for _, user := range []string{"user-000", "user-001", "user-150", "listener-0", "nobody"} {
				for {
					ack := ackOf(t, asker, "/chat", "count", map[string]string{"room": room, "user": user})
					count, _ := ack["count"].(float64)
					member, _ := ack["member"].(bool)
					if int(count) == len(truth[room]) && member == truth[room][user] {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("node %d: presence.count(%s) = %v, presence.member(%s, %s) = %v; want %d and %v",
							i, room, ack["count"], room, user, ack["member"], len(truth[room]), truth[room][user])
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
	}
}

// presenceKeys lists the presence keys in the redis-server at url with
// their time to live.
func presenceKeys(t *testing.T, url string) map[string]time.Duration {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	keys, err := client.Keys(ctx, "gatehouse:presence*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]time.Duration, len(keys))
	for _, key := range keys {
		ttl, err := client.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[key] = ttl
	}
	return out
}

// TestPresenceRecordsInRedisAreBoundedAndExpire checks the bound declared
// in docs/presence.md: the presence keys are one hash per room in use, one
// set and one lease per node and the set of nodes, each expiring within
// three leases; a room's hash goes when its last user leaves; nodes that
// shut down leave no key, and nodes that die leave none after three
// leases.
func TestPresenceRecordsInRedisAreBoundedAndExpire(t *testing.T) {
	for _, ending := range []string{"shutdown", "death"} {
		t.Run(ending, func(t *testing.T) {
			url, _ := startStallableRedis(t)
			nodes := []*liveGateway{
				serveLiveGateway(t, clusterPresenceConfig(url), Options{PresenceLease: testPresenceLease}),
				serveLiveGateway(t, clusterPresenceConfig(url), Options{PresenceLease: testPresenceLease}),
			}
			var clients []*sioclient.Client
			for i := 0; i < 20; i++ {
				c := mustClient(t, nodes[i%2], fmt.Sprintf("u%02d", i%10))
				for _, room := range []string{"room-0", "room-1", "room-2"} {
					mustJoin(t, c, room)
				}
				mustJoin(t, c, "lobby") // not covered: not recorded
				clients = append(clients, c)
			}
			want := map[string]bool{
				"gatehouse:presence:5:/chatroom-0": true, "gatehouse:presence:5:/chatroom-1": true,
				"gatehouse:presence:5:/chatroom-2": true, "gatehouse:presence-nodes": true,
			}
			for _, g := range nodes {
				node := g.gw.Adapter().NodeID()
				want["gatehouse:presence-node:"+node], want["gatehouse:presence-lease:"+node] = true, true
			}
			waitKeys(t, url, want, "with 10 users in three rooms on two nodes")
			for key, ttl := range presenceKeys(t, url) {
				if ttl <= 0 || ttl > 3*testPresenceLease {
					t.Fatalf("%s expires in %s, want within three leases (%s)", key, ttl, 3*testPresenceLease)
				}
			}
			for _, c := range clients {
				if err := emitRoom(c, "leave", "room-1"); err != nil {
					t.Fatal(err)
				}
			}
			delete(want, "gatehouse:presence:5:/chatroom-1")
			waitKeys(t, url, want, "once every user left room-1")

			switch ending {
			case "shutdown":
				for _, g := range nodes {
					ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
					err := g.stop(ctx)
					cancel()
					if err != nil {
						t.Fatal(err)
					}
				}
				waitKeys(t, url, map[string]bool{}, "once both nodes shut down")
			case "death":
				for _, g := range nodes {
					if err := g.gw.Adapter().Close(); err != nil {
						t.Fatal(err)
					}
				}
				waitKeys(t, url, map[string]bool{}, "three leases after both nodes died")
			}
		})
	}
}

// waitKeys waits until the presence keys are want, for up to three leases
// and a margin.
func waitKeys(t *testing.T, url string, want map[string]bool, when string) {
	t.Helper()
	deadline := time.Now().Add(3*testPresenceLease + 3*time.Second)
	for {
		got := presenceKeys(t, url)
		same := len(got) == len(want)
		for key := range got {
			same = same && want[key]
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s the presence keys are %v, want %v", when, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
