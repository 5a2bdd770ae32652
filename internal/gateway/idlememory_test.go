package gateway

import (
	"bytes"
	"net"
	"runtime"
	"strconv"
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

// idleAuthConfig is the idle test's gateway with tokens required, as the
// benchmarks' is: each socket keeps its claims, its expiry watch and its
// place under max_connections_per_user.
const idleAuthConfig = `
server:
  limits:
    max_connections_per_ip: 0
    flood: {rate: 0}
auth:
  jwt:
    secret: ` + handshakeSecret + `
    algorithms: [HS256]
namespaces:
  /chat:
    auth: required
    events: {}
`

// TestIdleAuthenticatedWebSocketHeapPerConnection holds idle WebSocket
// sessions that connected a namespace with a token and measures the live
// heap they add. The clients are bare TCP connections that send the
// upgrade, then the CONNECT once the upgrade is answered (as a browser
// does), and then only hold the connection, so nearly all of the figure is
// the gateway's (the client's socket is about 300 bytes). It measured
// 2.3-2.4 KiB per connection (3.3 KiB before the socket kept its token's
// claims as their JSON text and the gateway's expiry timers in its state,
// 3.6 KiB before the Socket.IO socket kept its context in its own fields
// and the gateway's per-connection wrappers shrank); the budget catches a
// per-connection buffer or map coming back, not the last bytes.
func TestIdleAuthenticatedWebSocketHeapPerConnection(t *testing.T) {
	const (
		conns  = 400
		budget = 3<<10 + 512 // bytes per idle connection, the client's socket included
	)
	g := startLiveGateway(t, idleAuthConfig, Registries{})
	upgrade := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + g.addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	connects := make([][]byte, conns+1)
	for i := range connects {
		token := handshakeToken(t, "user-"+strconv.Itoa(i))
		connects[i] = maskedTextFrame(`40/chat,{"token":"` + token + `"}`)
	}
	held := make([]net.Conn, 0, conns+1)
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	buf := make([]byte, 4096)
	readUntil := func(conn net.Conn, want string) {
		var got []byte
		for !bytes.Contains(got, []byte(want)) {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("waiting for %q: %v; got %q", want, err, got)
			}
		}
	}
	hold := func(connect []byte) {
		conn, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		_ = conn.SetDeadline(time.Now().Add(limitsWait))
		if _, err := conn.Write(upgrade); err != nil {
			t.Fatal(err)
		}
		readUntil(conn, `"sid"`) // the 101 and the open packet
		if _, err := conn.Write(connect); err != nil {
			t.Fatal(err)
		}
		readUntil(conn, `40/chat,{"sid"`)
		_ = conn.SetDeadline(time.Time{})
	}
	hold(connects[conns]) // warms the pools and the first-use allocations
	time.Sleep(100 * time.Millisecond)
	before := heapInUse()
	for _, connect := range connects[:conns] {
		hold(connect)
	}
	time.Sleep(200 * time.Millisecond) // lets the last Connected hooks finish
	per := (heapInUse() - before) / conns
	runtime.KeepAlive(connects)
	t.Logf("live heap per idle authenticated connection: %d bytes", per)
	if per > budget {
		t.Fatalf("an idle authenticated WebSocket connection holds %d bytes of heap, over the %d budget", per, budget)
	}
}

// maskedTextFrame is a client's WebSocket text frame carrying packet.
func maskedTextFrame(packet string) []byte {
	payload := []byte(packet)
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81}
	if n := len(payload); n < 126 {
		frame = append(frame, 0x80|byte(n))
	} else {
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	}
	frame = append(frame, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	return frame
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
