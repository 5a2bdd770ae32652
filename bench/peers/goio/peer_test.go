package main

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

const testSecret = "peer-test-secret"

// startPeer serves the peer on a loopback port for the test.
func startPeer(t *testing.T, rate, burst float64) string {
	t.Helper()
	io, handler := newPeer(settings{secret: testSecret, rate: rate, burst: burst})
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		io.Close(nil)
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

func sign(t *testing.T, method jwt.SigningMethod, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validToken(t *testing.T, sub string) string {
	return sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": sub, "username": "User " + sub, "exp": time.Now().Add(time.Hour).Unix()})
}

// client is one raw Engine.IO v4 / Socket.IO v5 connection on /chat.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t, ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	return c
}

func (c *client) send(text string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next packet that is not a ping, answering pings.
func (c *client) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatal(err)
		}
		if string(data) == "2" {
			c.send("3")
			continue
		}
		return string(data)
	}
}

// connect sends CONNECT to /chat with auth and returns the answer.
func (c *client) connect(auth string) string {
	c.t.Helper()
	c.send("40/chat," + auth)
	return c.read()
}

// ack emits event with id and data ("" for none) and returns the JSON of
// the ack's argument; other packets before it are returned too, in order.
func (c *client) ack(id int, event, data string) (reply string, before []string) {
	c.t.Helper()
	args := `"` + event + `"`
	if data != "" {
		args += "," + data
	}
	c.send("42/chat," + itoa(id) + "[" + args + "]")
	prefix := "43/chat," + itoa(id) + "["
	for {
		p := c.read()
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			return strings.TrimSuffix(rest, "]"), before
		}
		before = append(before, p)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// sameJSON reports whether packets a and b are prefix and the same JSON.
func sameJSON(t *testing.T, a, b, prefix string) bool {
	t.Helper()
	var va, vb any
	ra, ok1 := strings.CutPrefix(a, prefix)
	rb, ok2 := strings.CutPrefix(b, prefix)
	if !ok1 || !ok2 || json.Unmarshal([]byte(ra), &va) != nil || json.Unmarshal([]byte(rb), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func TestConnectRefusalsCarryTheNodeBaselinesCodes(t *testing.T) {
	url := startPeer(t, 100, 100)
	now := time.Now()
	tests := []struct {
		name, auth, want string
	}{
		{"no token", `{}`, `44/chat,{"message":"authentication required","data":{"code":"unauthorized"}}`},
		{"not a JWT", `{"token":"abc"}`, `44/chat,{"message":"malformed token","data":{"code":"unauthorized"}}`},
		{"too large", `{"token":"` + strings.Repeat("x", 9000) + `"}`, `44/chat,{"message":"token too large","data":{"code":"unauthorized"}}`},
		{"expired", `{"token":"` + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u", "exp": now.Add(-time.Minute).Unix()}) + `"}`,
			`44/chat,{"message":"token expired","data":{"code":"token_expired"}}`},
		{"no exp", `{"token":"` + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u"}) + `"}`,
			`44/chat,{"message":"token has no exp","data":{"code":"unauthorized"}}`},
		{"HS384", `{"token":"` + sign(t, jwt.SigningMethodHS384, testSecret, jwt.MapClaims{"sub": "u", "exp": now.Add(time.Hour).Unix()}) + `"}`,
			`44/chat,{"message":"unsupported algorithm","data":{"code":"unauthorized"}}`},
		{"other secret", `{"token":"` + sign(t, jwt.SigningMethodHS256, "other", jwt.MapClaims{"sub": "u", "exp": now.Add(time.Hour).Unix()}) + `"}`,
			`44/chat,{"message":"invalid signature","data":{"code":"unauthorized"}}`},
		{"not valid yet", `{"token":"` + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(time.Hour).Unix()}) + `"}`,
			`44/chat,{"message":"token not valid yet","data":{"code":"unauthorized"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The library writes CONNECT_ERROR's keys in an order of its
			// own: the JSON is compared, not its text.
			got := dial(t, url).connect(tt.auth)
			if !sameJSON(t, got, tt.want, "44/chat,") {
				t.Errorf("CONNECT answered %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEventsAnswerAsTheNodeBaselineDoes(t *testing.T) {
	url := startPeer(t, 100, 100)
	a, b := dial(t, url), dial(t, url)
	for _, c := range []*client{a, b} {
		if got := c.connect(`{"token":"` + validToken(t, "u1") + `"}`); !strings.HasPrefix(got, `40/chat,{"sid":`) {
			t.Fatalf("CONNECT answered %s", got)
		}
	}
	if got, _ := a.ack(1, "whoami", ""); !strings.Contains(got, `"sub":"u1"`) {
		t.Errorf("whoami = %s", got)
	}
	tests := []struct {
		event, data, want string
	}{
		{"sendMessage", `{"message":""}`, `{"error":{"code":"invalid_payload","message":"message must be 1 to 2000 characters"}}`},
		{"sendMessage", `{"message":"` + strings.Repeat("é", 2001) + `"}`, `{"error":{"code":"invalid_payload","message":"message must be 1 to 2000 characters"}}`},
		{"sendMessage", `{}`, `{"error":{"code":"invalid_payload","message":"missing property message"}}`},
		{"sendMessage", `{"message":5}`, `{"error":{"code":"invalid_payload","message":"message must be a string"}}`},
		{"sendMessage", `[1]`, `{"error":{"code":"invalid_payload","message":"payload must be an object"}}`},
		{"sendMessage", ``, `{"error":{"code":"invalid_payload","message":"payload must be an object"}}`},
		{"sendToRoom", `{"room":"r1","message":"m"}`, `{"error":{"code":"forbidden","message":"you must join the room before sending to it"}}`},
		{"join", `{"room":"` + strings.Repeat("r", 201) + `"}`, `{"error":{"code":"invalid_payload","message":"room must be 1 to 200 characters"}}`},
		{"announce", `{"message":"m"}`, `{"error":{"code":"forbidden","message":"admin only"}}`},
		{"toString", ``, `{"error":{"code":"unknown_event","message":"unknown event toString"}}`},
		{"join", `{"room":"r1"}`, `{"ok":true,"room":"r1"}`},
		{"leave", `{"room":"r1"}`, `{"ok":true,"room":"r1"}`},
	}
	for i, tt := range tests {
		if got, _ := a.ack(10+i, tt.event, tt.data); got != tt.want {
			t.Errorf("%s %s answered %s, want %s", tt.event, tt.data, got, tt.want)
		}
	}

	// A broadcast reaches both sockets, the sender's before its ack.
	const message = `42/chat,["message",{"user":"u1","username":"User u1","message":"hi"}]`
	got, before := a.ack(50, "sendMessage", `{"message":"hi"}`)
	if got != `{"ok":true}` || len(before) != 1 || before[0] != message {
		t.Errorf("sendMessage answered %s after %q", got, before)
	}
	if got := b.read(); got != message {
		t.Errorf("the other socket got %s, want %s", got, message)
	}

	// To a room: only its members.
	b.ack(51, "join", `{"room":"r2"}`)
	a.ack(52, "join", `{"room":"r2"}`)
	a.ack(53, "leave", `{"room":"r2"}`)
	if got, _ := b.ack(54, "sendToRoom", `{"room":"r2","message":"to r2"}`); got != `{"ok":true}` {
		t.Errorf("sendToRoom answered %s", got)
	}
	// a left r2: what it reads next is its own ack, not the room's message.
	if got, before := a.ack(55, "whoami", ""); len(before) != 0 || !strings.Contains(got, `"sub":"u1"`) {
		t.Errorf("a, out of r2, got %q before its ack", before)
	}

	// Without an ack, an error is an "exception" event.
	a.send(`42/chat,["nope",1]`)
	if got, want := a.read(), `42/chat,["exception",{"status":"error","code":"unknown_event","message":"unknown event nope","event":"nope"}]`; got != want {
		t.Errorf("event without ack answered %s, want %s", got, want)
	}
}

func TestThePerUserRateLimitRefusesPastTheBurst(t *testing.T) {
	url := startPeer(t, 0.001, 2)
	c := dial(t, url)
	c.connect(`{"token":"` + validToken(t, "u7") + `"}`)
	for i, want := range []string{`{"ok":true}`, `{"ok":true}`, `{"error":{"code":"rate_limited","message":"rate limit exceeded"}}`} {
		if got, _ := c.ack(i, "sendMessage", `{"message":"m"}`); got != want {
			t.Errorf("message %d answered %s, want %s", i, got, want)
		}
	}
	// Another user has a bucket of its own.
	d := dial(t, url)
	d.connect(`{"token":"` + validToken(t, "u8") + `"}`)
	if got, _ := d.ack(0, "sendMessage", `{"message":"m"}`); got != `{"ok":true}` {
		t.Errorf("another user's first message answered %s", got)
	}
}
