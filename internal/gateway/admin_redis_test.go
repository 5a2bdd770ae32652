package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
)

// awaitReady waits until the gateway's /readyz answers 200: with Redis, once
// its adapter subscribed and the other nodes can ask it.
func awaitReady(t *testing.T, g *liveGateway) {
	t.Helper()
	deadline := time.Now().Add(limitsWait)
	for {
		res, err := http.Get("http://" + g.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in time", g.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apiDisconnect asks the server API of g to disconnect one socket.
func apiDisconnect(t *testing.T, g *liveGateway, namespace, socket string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+g.addr+"/api/v1/disconnect",
		strings.NewReader(`{"namespace":"`+namespace+`","socket":"`+socket+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminTestKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("disconnect %s: %d", socket, res.StatusCode)
	}
}

// TestAdminViewIsClusterWideOnRedis serves two gateways on one real
// redis-server: the view of either shows the sockets, rooms, refusals and
// events of both, and the server API disconnects a socket of the other.
func TestAdminViewIsClusterWideOnRedis(t *testing.T) {
	url, _ := startStallableRedis(t)
	adapterSection := "adapter:\n  kind: redis\n  redis: {url: \"" + url + "\"}"
	a := startLiveGateway(t, adminConfig("{enabled: true}", adapterSection), Registries{})
	// The other node keeps refusals only for a view it serves itself, and
	// answers for its sockets and events either way.
	b := startLiveGateway(t, adminConfig("{enabled: true, path: /ops}", adapterSection), Registries{})
	awaitReady(t, a)
	awaitReady(t, b)
	alice := chatClient(t, a, "alice")
	bob, carol := chatClient(t, b, "bob"), chatClient(t, b, "carol")
	ackOf(t, alice, "/chat", "join", map[string]string{"room": "lobby"})
	ackOf(t, bob, "/chat", "join", map[string]string{"room": "lobby"})
	ackOf(t, carol, "/chat", "join", map[string]string{"room": "dev"})
	ackOf(t, alice, "/chat", "sendMessage", map[string]any{"message": "from a"})
	ackOf(t, bob, "/chat", "sendMessage", map[string]any{"message": "from b"})
	if ack := ackOf(t, bob, "/chat", "sendMessage", map[string]any{}); errorCode(ack) != "invalid_payload" {
		t.Fatalf("invalid message on b: %v", ack)
	}

	var conns admin.Connections
	adminPart(t, a.addr, admin.PartConnections, &conns)
	if conns.Partial != "" || len(conns.Nodes) != 2 {
		t.Fatalf("nodes %+v (partial %q)", conns.Nodes, conns.Partial)
	}
	perNode := map[bool]int{}
	for _, n := range conns.Nodes {
		perNode[n.Self] = n.Namespaces["/chat"]
	}
	if perNode[true] != 1 || perNode[false] != 2 {
		t.Errorf("sockets per node %+v", conns.Nodes)
	}
	ns := conns.Namespaces[0]
	if ns.Sockets != 3 || len(ns.Rooms) != 2 || ns.Rooms[0] != (admin.RoomSize{Room: "lobby", Sockets: 2}) {
		t.Errorf("namespace %+v", ns)
	}
	var bobID, bobNode string
	for _, s := range conns.Sockets {
		if s.User == "bob" {
			bobID, bobNode = s.ID, s.Node
		}
	}
	if len(conns.Sockets) != 3 || bobID == "" || bobNode != b.gw.Adapter().NodeID() {
		t.Fatalf("sockets %+v", conns.Sockets)
	}

	var refusals admin.Refusals
	adminPart(t, a.addr, admin.PartRefusals, &refusals)
	if len(refusals.Nodes) != 2 || refusals.Total != 1 || refusals.Refusals[0].Node != bobNode || refusals.Refusals[0].Code != "invalid_payload" {
		t.Errorf("refusals %+v", refusals)
	}

	var events admin.Events
	adminPart(t, a.addr, admin.PartEvents, &events)
	for _, e := range events.Events {
		if e.Event == "sendMessage" && (e.Total != 3 || e.Codes["ok"] != 2 || e.Handlers[0].Count != 2) {
			t.Errorf("sendMessage over both nodes %+v", e)
		}
	}

	// The page's Disconnect button calls the server API of the node it is
	// served by, which reaches the socket on the other.
	apiDisconnect(t, a, "/chat", bobID)
	awaitDisconnect(t, bob, "/chat")
	deadline := time.Now().Add(limitsWait)
	for {
		adminPart(t, a.addr, admin.PartConnections, &conns)
		if len(conns.Sockets) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the disconnect: %+v", conns.Sockets)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
