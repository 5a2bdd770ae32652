package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
)

// TestTLSWebSocketAnswersEventsArrivingTogether sends events over wss in
// one TLS record, so that the gateway reads them together through TLS and
// writes their acks just before its next read of the socket.
func TestTLSWebSocketAnswersEventsArrivingTogether(t *testing.T) {
	cert, key := writeCert(t, t.TempDir(), "ws")
	g := startLiveGateway(t, tlsConfigText(cert, key), Registries{})
	dialer := fws.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // self-signed test certificate
	ctx, cancel := context.WithTimeout(context.Background(), limitsWait)
	defer cancel()
	ws, _, err := dialer.DialContext(ctx, "wss://"+g.addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("dial over TLS: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(limitsWait))
	read := func() string {
		t.Helper()
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(msg)
	}
	if open := read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("first message %q, want the open packet", open)
	}
	if err := ws.WriteMessage(fws.TextMessage, []byte("40/chat,")); err != nil {
		t.Fatal(err)
	}
	if ack := read(); !strings.HasPrefix(ack, `40/chat,{"sid":`) {
		t.Fatalf("CONNECT answered %q", ack)
	}

	var burst []byte
	for id := 1; id <= 5; id++ {
		payload := fmt.Sprintf(`42/chat,%d["ping"]`, id)
		// A masked client text frame; the all-zero key leaves the bytes as
		// they are.
		burst = append(burst, 0x81, 0x80|byte(len(payload)), 0, 0, 0, 0)
		burst = append(burst, payload...)
	}
	if _, err := ws.UnderlyingConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 5; id++ {
		if got, want := read(), fmt.Sprintf(`43/chat,%d["pong"]`, id); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
