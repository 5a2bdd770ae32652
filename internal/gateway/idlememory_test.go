package gateway

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// idleMemoryConfig serves one namespace with the per-address limits off,
// as the test opens every connection from one address.
const idleMemoryConfig = `
server:
  limits:
    max_connections_per_ip: 0
    flood: {rate: 0}
namespaces:
  /a:
    events: {}
`

// TestIdleWebSocketHoldsNoRequestReadBuffer holds many idle WebSocket
// sessions with a connected namespace and measures the live heap they add,
// both ends included (the test's clients run in this process). With
// StreamRequestBody on, fasthttp hands the upgrade's 32 KiB request reader
// to the hijacked connection; kept for the WebSocket's life it made each
// idle connection cost about 63 KiB here, against about 31 KiB without
// it; the budget leaves room for the client's buffers and the runtime.
func TestIdleWebSocketHoldsNoRequestReadBuffer(t *testing.T) {
	const (
		conns  = 300
		budget = 44 << 10 // bytes per idle connection, both ends
	)
	g := startLiveGateway(t, idleMemoryConfig, Registries{})
	g.dial(t, "/a") // warms the pools and the first-use allocations
	before := heapInUse()
	for range conns {
		g.dial(t, "/a")
	}
	time.Sleep(200 * time.Millisecond) // lets the last sessions settle
	per := (heapInUse() - before) / conns
	t.Logf("live heap per idle connection: %d bytes (both ends)", per)
	if per > budget {
		t.Fatalf("an idle WebSocket connection holds %d bytes of heap, over the %d budget", per, budget)
	}
}

// TestWebSocketFramesSentWithTheUpgradeRequestAreRead sends a CONNECT
// frame in the same write as the upgrade request, before the 101 answer:
// those bytes sit in the request's read buffer, which the WebSocket must
// then keep reading from rather than drop.
func TestWebSocketFramesSentWithTheUpgradeRequestAreRead(t *testing.T) {
	g := startLiveGateway(t, idleMemoryConfig, Registries{})
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := []byte("40/a,")
	mask := []byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(payload))}, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + g.addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(limitsWait))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(`40/a,{"sid"`)) {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("no CONNECT answer to the pipelined frame: %v; got %q", err, got)
		}
	}
}
