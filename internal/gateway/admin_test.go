package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/sioclient"
)

const adminTestKey = "admin-test-api-key-5f1c"

// adminTestConfig serves /chat (with a token) and the operator's view;
// ADAPTER and ADMIN are replaced by each test.
const adminTestConfig = `
ADAPTER
server:
  admin: ADMIN
api:
  keys: [` + adminTestKey + `]
auth:
  jwt:
    secret: ` + metricsTestSecret + `
    algorithms: [HS256]
guards:
  message_body:
    schema:
      type: object
      required: [message]
      properties:
        message: {type: string, minLength: 1}
namespaces:
  /chat:
    auth: required
    events:
      sendMessage:
        guards: [message_body]
        handler:
          broadcast:
            event: message
            data: '{"message": data.message}'
            reply: '{"ok": true}'
      join:
        handler:
          join:
            room: data.room
            reply: '{"ok": true}'
`

// adminConfig is adminTestConfig with server.admin and the adapter.
func adminConfig(adminSection, adapterSection string) string {
	text := strings.Replace(adminTestConfig, "ADMIN", adminSection, 1)
	return strings.Replace(text, "ADAPTER", adapterSection, 1)
}

// adminGet fetches path from the gateway at addr with the API key key ("" for
// none) and returns the status and the body.
func adminGet(t testing.TB, addr, path, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode, body
}

// adminPart fetches one JSON endpoint of the view with the key and decodes
// it into out.
func adminPart(t testing.TB, addr, part string, out any) {
	t.Helper()
	status, body := adminGet(t, addr, "/admin/api/"+part, adminTestKey)
	if status != http.StatusOK {
		t.Fatalf("%s: %d %s", part, status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %v in %s", part, err, body)
	}
}

// chatClient opens a session and connects /chat as sub.
func chatClient(t *testing.T, g *liveGateway, sub string) *sioclient.Client {
	t.Helper()
	c := g.dial(t, "")
	if err := joinChat(t, c, signedToken(t, sub)); err != nil {
		t.Fatalf("connect %s: %v", sub, err)
	}
	return c
}

var adminParts = []string{admin.PartConnections, admin.PartRefusals, admin.PartEvents}

func TestAdminEndpointsAnswerOnlyWithAnAPIKey(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true}", ""), Registries{})
	for _, part := range adminParts {
		path := "/admin/api/" + part
		for _, key := range []string{"", "wrong-key", adminTestKey + "x"} {
			if status, body := adminGet(t, g.addr, path, key); status != http.StatusUnauthorized || !strings.Contains(string(body), `"unauthorized"`) {
				t.Errorf("%s with key %q: %d %s, want 401 unauthorized", path, key, status, body)
			}
		}
		if status, body := adminGet(t, g.addr, path, adminTestKey); status != http.StatusOK || !json.Valid(body) {
			t.Errorf("%s with the key: %d %s", path, status, body)
		}
	}
	// The page itself holds no data: it asks for the key.
	status, body := adminGet(t, g.addr, "/admin", "")
	if status != http.StatusOK || !strings.Contains(string(body), "operator's view") || strings.Contains(string(body), adminTestKey) {
		t.Errorf("page: %d, %d bytes", status, len(body))
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
		t.Error("the page refers to another site; it must be self-contained")
	}
}

func TestAdminOffAnswersNotFound(t *testing.T) {
	for name, section := range map[string]string{"not written": "{}", "disabled": "{enabled: false}"} {
		t.Run(name, func(t *testing.T) {
			g := startLiveGateway(t, adminConfig(section, ""), Registries{})
			for _, path := range []string{"/admin", "/admin/", "/admin/api/connections", "/admin/api/refusals", "/admin/api/events"} {
				if status, _ := adminGet(t, g.addr, path, adminTestKey); status != http.StatusNotFound {
					t.Errorf("%s: %d, want 404", path, status)
				}
			}
		})
	}
}

func TestAdminConnectionsListSocketsAndRoomSizes(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true, path: /ops}", ""), Registries{})
	alice, bob := chatClient(t, g, "alice"), chatClient(t, g, "bob")
	for _, c := range []*sioclient.Client{alice, bob} {
		if ack := ackOf(t, c, "/chat", "join", map[string]string{"room": "lobby"}); ack["ok"] != true {
			t.Fatalf("join: %v", ack)
		}
	}
	ackOf(t, bob, "/chat", "join", map[string]string{"room": "dev"})
	status, body := adminGet(t, g.addr, "/ops/api/connections", adminTestKey)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	var got admin.Connections
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 1 || !got.Nodes[0].Self || got.Nodes[0].Namespaces["/chat"] != 2 {
		t.Errorf("nodes %+v", got.Nodes)
	}
	if len(got.Namespaces) != 1 || got.Namespaces[0].Sockets != 2 {
		t.Fatalf("namespaces %+v", got.Namespaces)
	}
	rooms := got.Namespaces[0].Rooms
	if len(rooms) != 2 || rooms[0] != (admin.RoomSize{Room: "lobby", Sockets: 2}) || rooms[1] != (admin.RoomSize{Room: "dev", Sockets: 1}) {
		t.Errorf("rooms %+v", rooms)
	}
	users := map[string]admin.SocketInfo{}
	for _, s := range got.Sockets {
		users[s.User] = s
	}
	if len(got.Sockets) != 2 || users["alice"].Address != "127.0.0.1" || users["bob"].Transport != "websocket" ||
		strings.Join(users["bob"].Rooms, ",") != "dev,lobby" {
		t.Errorf("sockets %+v", got.Sockets)
	}
	if strings.Contains(string(body), metricsTestSecret) || strings.Contains(string(body), "eyJ") {
		t.Errorf("the answer holds a secret or a token: %s", body)
	}
}

func TestAdminRefusalsKeepTheLastOnesWithTheirCodes(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true, recent_refusals: 5}", ""), Registries{})
	// A CONNECT with a bad token: kept without the token.
	c := g.dial(t, "")
	badToken := signedToken(t, "mallory") + "x"
	if err := joinChat(t, c, badToken); err == nil {
		t.Fatal("a bad token connected")
	}
	alice := chatClient(t, g, "alice")
	if ack := ackOf(t, alice, "/chat", "sendMessage", map[string]any{"message": ""}); errorCode(ack) != "invalid_payload" {
		t.Fatalf("invalid message: %v", ack)
	}
	var got admin.Refusals
	adminPart(t, g.addr, admin.PartRefusals, &got)
	if got.Total != 2 || len(got.Refusals) != 2 {
		t.Fatalf("refusals %+v", got)
	}
	event, connect := got.Refusals[0], got.Refusals[1]
	if event.Stage != admin.StageEvent || event.Event != "sendMessage" || event.Code != "invalid_payload" ||
		!strings.HasPrefix(event.Reason, `guard message_body: `) || event.Address != "127.0.0.1" || event.Namespace != "/chat" {
		t.Errorf("event refusal %+v", event)
	}
	if connect.Stage != admin.StageConnect || connect.Code != "unauthorized" || connect.Namespace != "/chat" {
		t.Errorf("connect refusal %+v", connect)
	}
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), badToken[:20]) || strings.Contains(string(raw), metricsTestSecret) {
		t.Errorf("refusals hold a token or the secret: %s", raw)
	}

	// Many more refusals: the ring keeps the last five, newest first.
	for i := range 12 {
		ackOf(t, alice, "/chat", "nope"+string(rune('a'+i)), nil)
	}
	adminPart(t, g.addr, admin.PartRefusals, &got)
	if got.Total != 14 || len(got.Refusals) != 5 || got.Refusals[0].Event != "nopel" || got.Refusals[4].Event != "nopeh" ||
		got.Refusals[0].Code != "unknown_event" {
		t.Errorf("after 14 refusals: total %d, %d kept, newest %+v", got.Total, len(got.Refusals), got.Refusals)
	}
}

func TestAdminEventsSayWhenMetricsAreOff(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true}\n  metrics: false", ""), Registries{})
	alice := chatClient(t, g, "alice")
	ackOf(t, alice, "/chat", "sendMessage", map[string]any{"message": "hi"})
	var got admin.Events
	adminPart(t, g.addr, admin.PartEvents, &got)
	if got.Metrics || len(got.Events) != 0 {
		t.Errorf("events without metrics: %+v", got)
	}
}

func TestAdminEventsCountResultsAndHandlerLatencies(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true}", ""), Registries{})
	alice := chatClient(t, g, "alice")
	for range 3 {
		ackOf(t, alice, "/chat", "sendMessage", map[string]any{"message": "hi"})
	}
	ackOf(t, alice, "/chat", "sendMessage", map[string]any{"message": 7})
	var got admin.Events
	adminPart(t, g.addr, admin.PartEvents, &got)
	var send *admin.EventStat
	for i := range got.Events {
		if got.Events[i].Event == "sendMessage" {
			send = &got.Events[i]
		}
	}
	if !got.Metrics || send == nil || send.Total != 4 || send.Codes["ok"] != 3 || send.Codes["invalid_payload"] != 1 {
		t.Fatalf("events %+v", got)
	}
	if len(send.Handlers) != 1 || send.Handlers[0].Handler != "broadcast" || send.Handlers[0].Count != 3 ||
		send.Handlers[0].P99Ms <= 0 || send.Handlers[0].P50Ms > send.Handlers[0].P99Ms {
		t.Errorf("latency %+v", send.Handlers)
	}
}

// TestAdminRefusalRingHoldsNoPacketOfAnAttacker sends, as an attacker
// would, more events than the ring keeps, under names the config does not
// declare and that are as long as max_payload lets them be. Each refusal
// kept must hold its few hundred bytes, never the name the client chose.
func TestAdminRefusalRingHoldsNoPacketOfAnAttacker(t *testing.T) {
	skipHeavyUnderRace(t)
	const kept, packets, nameBytes = 200, 250, 64 << 10
	g := startLiveGateway(t, adminConfig("{enabled: true, recent_refusals: 200}\n  limits: {flood: {rate: 0}}", ""), Registries{})
	attacker := chatClient(t, g, "mallory")
	before := heapInUse()
	for i := range packets {
		// Without an ack: the refusal is an exception event, read or not.
		name := fmt.Sprintf("probe-%d-%s", i, strings.Repeat("z", nameBytes))
		if err := attacker.Emit("/chat", name, "x"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(limitsWait)
	for {
		var got admin.Refusals
		adminPart(t, g.addr, admin.PartRefusals, &got)
		if got.Total >= packets {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d refusals kept in time", got.Total, packets)
		}
		time.Sleep(20 * time.Millisecond)
	}
	held := heapInUse() - before
	// The ring's declared budget, plus 2 MiB for the test's own client,
	// connection buffers and what the runtime keeps between collections.
	budget := int64(kept*admin.EntryBytes) + 2<<20
	t.Logf("heap held after %d refused events named with %d KiB each: %s (budget %s)", packets, nameBytes>>10, mib(held), mib(budget))
	if held > budget {
		t.Errorf("heap grew by %s after %d refusals, over the ring's budget %s: the ring holds what clients sent", mib(held), packets, mib(budget))
	}
}

// TestAdminAnswersHoldNoSecretOfTheConfig fills every part of the view
// (sockets, a refused token, a failed webhook with credentials in its URL
// and headers) and looks for each secret of the config in every answer.
func TestAdminAnswersHoldNoSecretOfTheConfig(t *testing.T) {
	const urlPassword, headerSecret = "url-pass-9d2e", "header-secret-41aa"
	text := adminConfig("{enabled: true}", "") + `
      notify:
        handler:
          webhook:
            url: "http://hook:` + urlPassword + `@127.0.0.1:1/events?key=` + urlPassword + `"
            timeout: 300ms
            headers: {Authorization: "Bearer ` + headerSecret + `"}
`
	g := startLiveGateway(t, text, Registries{})
	alice := chatClient(t, g, "alice")
	aliceToken := signedToken(t, "alice")
	if ack := ackOf(t, alice, "/chat", "notify", map[string]any{"x": 1}); !strings.HasPrefix(errorCode(ack), "upstream_") {
		t.Fatalf("webhook to a closed port: %v", ack)
	}
	if err := joinChat(t, g.dial(t, ""), aliceToken+"tampered"); err == nil {
		t.Fatal("a tampered token connected")
	}
	answers := []string{}
	_, page := adminGet(t, g.addr, "/admin", "")
	answers = append(answers, string(page))
	for _, part := range adminParts {
		_, body := adminGet(t, g.addr, "/admin/api/"+part, adminTestKey)
		answers = append(answers, string(body))
	}
	if !strings.Contains(answers[2], "upstream_") || !strings.Contains(answers[2], "unauthorized") {
		t.Fatalf("the refusals are not all there: %s", answers[2])
	}
	for i, answer := range answers {
		for _, secret := range []string{metricsTestSecret, adminTestKey, urlPassword, headerSecret, aliceToken[:24]} {
			if strings.Contains(answer, secret) {
				t.Errorf("answer %d holds %q: %s", i, secret, answer)
			}
		}
	}
}

// TestAdminRefusalsKeepUpgradeAndLimitRefusals keeps what is refused before
// any namespace: a token refused at the Engine.IO handshake, and a request
// from an origin that is not allowed.
func TestAdminRefusalsKeepUpgradeAndLimitRefusals(t *testing.T) {
	g := startLiveGateway(t, adminConfig("{enabled: true}", ""), Registries{})
	badToken := signedToken(t, "mallory") + "x"
	res, err := http.Get("http://" + g.addr + "/socket.io/?EIO=4&transport=polling&token=" + badToken)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.addr+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var got admin.Refusals
	adminPart(t, g.addr, admin.PartRefusals, &got)
	if len(got.Refusals) != 2 {
		t.Fatalf("refusals %+v", got.Refusals)
	}
	origin, upgrade := got.Refusals[0], got.Refusals[1]
	if upgrade.Stage != admin.StageUpgrade || upgrade.Code != "unauthorized" || upgrade.Address != "127.0.0.1" || upgrade.Reason == "" {
		t.Errorf("upgrade refusal %+v", upgrade)
	}
	if origin.Stage != admin.StageLimit || origin.Code != "forbidden" || !strings.Contains(origin.Reason, "https://elsewhere.example") {
		t.Errorf("origin refusal %+v", origin)
	}
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), badToken[:24]) {
		t.Errorf("a refusal holds the token: %s", raw)
	}
}
