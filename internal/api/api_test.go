package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
)

// recordingCluster serves the namespaces "/" and "/chat" and records what
// it is asked to do.
type recordingCluster struct {
	mu          sync.Mutex
	emits       []Emit
	disconnects []Disconnect
	roomSize    int
	err         error
}

func (c *recordingCluster) HasNamespace(name string) bool { return name == "/" || name == "/chat" }

func (c *recordingCluster) Emit(_ context.Context, e Emit) (Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emits = append(c.emits, e)
	return Delivery{}, c.err
}

func (c *recordingCluster) Disconnect(_ context.Context, d Disconnect) (Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disconnects = append(c.disconnects, d)
	return Delivery{LocalOnly: true, Warning: "other nodes unreachable"}, c.err
}

func (c *recordingCluster) RoomSize(_ context.Context, namespace, room string) (int, error) {
	return c.roomSize, c.err
}

// History is tested on a live gateway (internal/gateway's history tests).
func (c *recordingCluster) History(context.Context, string, string, gatehouse.HistoryQuery) ([]gatehouse.HistoryEntry, error) {
	return nil, c.err
}

func newTestApp(t *testing.T, cluster Cluster) *fiber.App {
	t.Helper()
	app := fiber.New()
	if err := Mount(app, Options{Keys: []string{"key-one", "key-two"}, Cluster: cluster, BodyLimit: 256}); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	return app
}

// call sends one request and returns the status and the decoded JSON answer.
func call(t *testing.T, app *fiber.App, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("%s %s answered %d with non-JSON %q", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, answer
}

func TestAPIRefusesRequestsWithoutAValidKey(t *testing.T) {
	app := newTestApp(t, &recordingCluster{})
	for _, auth := range []string{"", "key-one", "Basic key-one", "Bearer ", "Bearer key-on", "Bearer key-one-and-more"} {
		status, answer := call(t, app, http.MethodPost, "/api/v1/emit", auth, `{"namespace":"/chat","event":"e"}`)
		if status != http.StatusUnauthorized || answer["code"] != CodeUnauthorized || answer["message"] == "" {
			t.Errorf("Authorization %q: %d %v, want 401 unauthorized", auth, status, answer)
		}
	}
	if status, _ := call(t, app, http.MethodGet, "/api/v1/nothing", "", ""); status != http.StatusUnauthorized {
		t.Errorf("unknown endpoint without a key: %d, want 401", status)
	}
	for _, key := range []string{"key-one", "key-two"} {
		if status, answer := call(t, app, http.MethodPost, "/api/v1/emit", "Bearer "+key, `{"namespace":"/chat","event":"e"}`); status != http.StatusOK {
			t.Errorf("key %q: %d %v, want 200", key, status, answer)
		}
	}
}

func TestAPIEmitPassesTheTargetOn(t *testing.T) {
	cluster := &recordingCluster{}
	app := newTestApp(t, cluster)
	bodies := []string{
		`{"namespace":"/chat","event":"news","data":{"x":1}}`,
		`{"namespace":"chat","room":"lobby","event":"news","data":[1,2]}`,
		`{"namespace":"%2Fchat","user":"alice","event":"news"}`,
	}
	for _, body := range bodies[:2] {
		status, answer := call(t, app, http.MethodPost, "/api/v1/emit", "Bearer key-one", body)
		if status != http.StatusOK || answer["ok"] != true {
			t.Fatalf("%s: %d %v", body, status, answer)
		}
	}
	// A body names the namespace plainly: "%2Fchat" is not decoded there.
	if status, answer := call(t, app, http.MethodPost, "/api/v1/emit", "Bearer key-one", bodies[2]); status != http.StatusNotFound || answer["code"] != CodeUnknownNamespace {
		t.Errorf("URL-encoded namespace in a body: %d %v, want 404", status, answer)
	}
	want := []Emit{
		{Namespace: "/chat", Event: "news", Data: json.RawMessage(`{"x":1}`)},
		{Namespace: "/chat", Room: "lobby", Event: "news", Data: json.RawMessage(`[1,2]`)},
	}
	if len(cluster.emits) != len(want) {
		t.Fatalf("emits %+v, want %+v", cluster.emits, want)
	}
	for i := range want {
		got := cluster.emits[i]
		if got.Namespace != want[i].Namespace || got.Room != want[i].Room || got.User != want[i].User ||
			got.Event != want[i].Event || string(got.Data) != string(want[i].Data) {
			t.Errorf("emit %d = %+v, want %+v", i, got, want[i])
		}
	}
}

func TestAPIBadRequestsNameTheField(t *testing.T) {
	app := newTestApp(t, &recordingCluster{})
	cases := []struct {
		name, path, body, field string
		status                  int
	}{
		{"no body", "/api/v1/emit", ``, "body", 400},
		{"not an object", "/api/v1/emit", `[1]`, "body", 400},
		{"not JSON", "/api/v1/emit", `{"namespace":`, "body", 400},
		{"trailing data", "/api/v1/emit", `{"namespace":"/chat","event":"e"} {}`, "body", 400},
		{"no namespace", "/api/v1/emit", `{"event":"e"}`, "namespace", 400},
		{"no event", "/api/v1/emit", `{"namespace":"/chat"}`, "event", 400},
		{"event not a string", "/api/v1/emit", `{"namespace":"/chat","event":3}`, "event", 400},
		{"room and user", "/api/v1/emit", `{"namespace":"/chat","event":"e","room":"r","user":"u"}`, "room", 400},
		{"empty room", "/api/v1/emit", `{"namespace":"/chat","event":"e","room":""}`, "room", 400},
		{"unknown field", "/api/v1/emit", `{"namespace":"/chat","event":"e","rooms":["r"]}`, "rooms", 400},
		{"unknown namespace", "/api/v1/emit", `{"namespace":"/nope","event":"e"}`, "", 404},
		{"too large", "/api/v1/emit", `{"namespace":"/chat","event":"e","data":"` + strings.Repeat("x", 300) + `"}`, "", 413},
		{"disconnect nobody", "/api/v1/disconnect", `{"namespace":"/chat"}`, "user", 400},
		{"disconnect both", "/api/v1/disconnect", `{"user":"u","socket":"s"}`, "user", 400},
		{"disconnect empty socket", "/api/v1/disconnect", `{"socket":""}`, "socket", 400},
		{"disconnect unknown namespace", "/api/v1/disconnect", `{"namespace":"x","user":"u"}`, "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, answer := call(t, app, http.MethodPost, tc.path, "Bearer key-one", tc.body)
			if status != tc.status {
				t.Fatalf("status %d %v, want %d", status, answer, tc.status)
			}
			message, _ := answer["message"].(string)
			if tc.field != "" && (answer["code"] != CodeInvalidRequest || !strings.HasPrefix(message, tc.field+":")) {
				t.Errorf("answer %v does not name the field %q", answer, tc.field)
			}
		})
	}
}

func TestAPIDisconnectReportsLocalOnlyDelivery(t *testing.T) {
	cluster := &recordingCluster{}
	app := newTestApp(t, cluster)
	status, answer := call(t, app, http.MethodPost, "/api/v1/disconnect", "Bearer key-two", `{"user":"alice"}`)
	if status != http.StatusOK || answer["ok"] != true || answer["local_only"] != true || answer["warning"] == "" {
		t.Fatalf("%d %v", status, answer)
	}
	if len(cluster.disconnects) != 1 || cluster.disconnects[0] != (Disconnect{User: "alice"}) {
		t.Errorf("disconnects = %+v", cluster.disconnects)
	}
}

func TestAPIRoomSizeAcceptsBothNamespaceSpellings(t *testing.T) {
	cluster := &recordingCluster{roomSize: 4}
	app := newTestApp(t, cluster)
	for _, path := range []string{"/api/v1/namespaces/chat/rooms/lobby", "/api/v1/namespaces/%2Fchat/rooms/lobby"} {
		status, answer := call(t, app, http.MethodGet, path, "Bearer key-one", "")
		if status != http.StatusOK || answer["namespace"] != "/chat" || answer["room"] != "lobby" || answer["sockets"] != float64(4) {
			t.Errorf("%s: %d %v", path, status, answer)
		}
	}
	status, answer := call(t, app, http.MethodGet, "/api/v1/namespaces/%2F/rooms/a%20b", "Bearer key-one", "")
	if status != http.StatusOK || answer["namespace"] != "/" || answer["room"] != "a b" {
		t.Errorf("root namespace, encoded room: %d %v", status, answer)
	}
	if status, answer := call(t, app, http.MethodGet, "/api/v1/namespaces/nope/rooms/lobby", "Bearer key-one", ""); status != 404 || answer["code"] != CodeUnknownNamespace {
		t.Errorf("unknown namespace: %d %v", status, answer)
	}
}

func TestAPIClusterErrorsKeepTheirStatus(t *testing.T) {
	cluster := &recordingCluster{err: &Error{Status: 504, Code: CodeUpstreamTimeout, Message: "1 of 2 nodes answered"}}
	app := newTestApp(t, cluster)
	status, answer := call(t, app, http.MethodGet, "/api/v1/namespaces/chat/rooms/lobby", "Bearer key-one", "")
	if status != 504 || answer["code"] != CodeUpstreamTimeout {
		t.Errorf("%d %v, want 504 upstream_timeout", status, answer)
	}
	cluster.err = io.ErrUnexpectedEOF
	status, answer = call(t, app, http.MethodPost, "/api/v1/emit", "Bearer key-one", `{"namespace":"/","event":"e"}`)
	if status != 500 || answer["code"] != CodeInternal || answer["message"] != "internal error" {
		t.Errorf("%d %v, want 500 internal without details", status, answer)
	}
}

func TestMountNeedsKeysAndACluster(t *testing.T) {
	for name, opts := range map[string]Options{
		"no keys":    {Cluster: &recordingCluster{}},
		"empty key":  {Keys: []string{""}, Cluster: &recordingCluster{}},
		"no cluster": {Keys: []string{"k"}},
	} {
		if err := Mount(fiber.New(), opts); err == nil {
			t.Errorf("%s: Mount accepted it", name)
		}
	}
}

func TestKeyCheckGuardsOtherEndpointsWithTheSameKeys(t *testing.T) {
	check, err := KeyCheck([]string{"key-one"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Get("/elsewhere", check, func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	for auth, want := range map[string]int{"": 401, "Bearer key-two": 401, "Bearer key-one": 200} {
		if status, answer := call(t, app, http.MethodGet, "/elsewhere", auth, ""); status != want {
			t.Errorf("Authorization %q: %d %v, want %d", auth, status, answer, want)
		}
	}
	for name, keys := range map[string][]string{"no keys": nil, "empty key": {""}} {
		if _, err := KeyCheck(keys, nil); err == nil {
			t.Errorf("%s: KeyCheck accepted it", name)
		}
	}
}
