package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// endpoint is where and how clients connect: one server, one namespace,
// one HS256 secret.
type endpoint struct {
	// hostPort is the server's address, path the Engine.IO path.
	hostPort, path string
	namespace      string
	secret         []byte
	// perSource is how many connections share one source address before
	// the next one (127.0.0.2, 127.0.0.3, ...) is used, so that more
	// connections than one address has ephemeral ports can be opened.
	perSource int
}

// newEndpoint checks that addr is a loopback host:port. The load tool only
// ever talks to this machine.
func newEndpoint(addr, path, namespace, secret string, perSource int) (*endpoint, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("target %q: only loopback addresses are allowed", addr)
	}
	if perSource <= 0 {
		perSource = 20000
	}
	return &endpoint{
		hostPort:  net.JoinHostPort(ip.String(), port),
		path:      path,
		namespace: namespace,
		secret:    []byte(secret),
		perSource: perSource,
	}, nil
}

// token signs the HS256 token of user number i, valid for an hour.
func (e *endpoint) token(i int) (string, error) {
	claims := jwt.MapClaims{
		"sub":      "u" + strconv.Itoa(i),
		"username": "User " + strconv.Itoa(i),
		"exp":      time.Now().Add(time.Hour).Unix(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(e.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// tokens signs n tokens ahead of a measurement, so that signing is not
// part of what is measured.
func (e *endpoint) tokens(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		t, err := e.token(i)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// sourceAddr is the local address of connection number i: the default
// one for the first perSource connections, then 127.0.0.2, 127.0.0.3...
func (e *endpoint) sourceAddr(i int) *net.TCPAddr {
	k := i / e.perSource
	if k == 0 {
		return nil
	}
	k++
	return &net.TCPAddr{IP: net.IPv4(127, byte(k>>16), byte(k>>8), byte(k))}
}

// readBufferSize is each connection's read buffer. Small, so that the
// client side stays cheap at 100k connections; a message that fits is
// parsed in place, a longer one is copied out.
const readBufferSize = 1024

// maxMessage bounds a message from the server (Engine.IO's default
// maxPayload is 1 MB); a larger one ends the connection.
const maxMessage = 16 << 20

// writeTimeout bounds a write that the server does not take. The deadline
// is moved at most once per writeDeadlineSlack, not at every write: moving
// it is a timer operation in the runtime, and a write is the hot path.
const (
	writeTimeout       = 10 * time.Second
	writeDeadlineSlack = time.Second
)

// client is one Engine.IO/Socket.IO connection on the WebSocket
// transport. The load tool frames WebSocket messages itself (RFC 6455,
// client side: masked, unfragmented text frames) so that an event costs
// one write system call and no allocation, and parses the server's
// frames straight from its read buffer.
type client struct {
	conn net.Conn
	br   *bufio.Reader
	ns   string
	// msg holds a message that did not fit the read buffer or came in
	// fragments; reused from one such message to the next.
	msg []byte

	wmu sync.Mutex
	// frame is the outgoing frame under construction, payload the
	// Socket.IO packet an emit builds; both reused under wmu.
	frame, payload []byte
	// writeDeadline is the deadline last set on conn for writes.
	writeDeadline time.Time
	// queued holds frames queueEvent built (its packet in queuedPayload),
	// written by flushQueued in one call; only the read loop's goroutine
	// touches them, so they are not under wmu.
	queued, queuedPayload []byte
	// onIdle, if set, runs in the read loop whenever no complete frame
	// is buffered, that is before a read that may wait for the server:
	// the moment to flush what handling the messages read so far queued.
	onIdle func()
}

// errRefused is a CONNECT_ERROR from the server.
var errRefused = errors.New("namespace connect refused")

// websocketGUID is the constant of the Sec-WebSocket-Accept computation
// (RFC 6455 §1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dial opens connection number i and performs the WebSocket upgrade.
func (e *endpoint) dial(ctx context.Context, i int) (*client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if local := e.sourceAddr(i); local != nil {
		d.LocalAddr = local
	}
	conn, err := d.DialContext(ctx, "tcp", e.hostPort)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.hostPort, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + e.path + "?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + e.hostPort + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	br := bufio.NewReaderSize(conn, readBufferSize)
	if err := readUpgradeResponse(br, key); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("websocket upgrade of %s%s: %w", e.hostPort, e.path, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &client{conn: conn, br: br, ns: e.namespace}, nil
}

// readUpgradeResponse reads the server's answer to the upgrade request up
// to its blank line, leaving br at the first frame, and checks that it is
// a 101 with the accept value of key.
func readUpgradeResponse(br *bufio.Reader, key string) error {
	sum := sha1.Sum([]byte(key + websocketGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	status, accepted := "", false
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("response: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if n == 0 {
			status = string(line)
			continue
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Sec-WebSocket-Accept")) {
			accepted = string(bytes.TrimSpace(value)) == want
		}
	}
	if fields := bytes.Fields([]byte(status)); len(fields) < 2 || string(fields[1]) != "101" {
		return fmt.Errorf("status %q, want 101", status)
	}
	if !accepted {
		return errors.New("missing or wrong Sec-WebSocket-Accept")
	}
	return nil
}

// connect opens connection number i with the given token and returns once
// the namespace CONNECT is acknowledged.
func (e *endpoint) connect(ctx context.Context, i int, token string) (*client, error) {
	c, err := e.dial(ctx, i)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.conn.SetReadDeadline(deadline)
	}
	open, err := c.read()
	if err != nil || len(open) == 0 || open[0] != '0' {
		c.close()
		return nil, fmt.Errorf("engine.io handshake: %q, %v", open, err)
	}
	if err := c.write([]byte("40" + e.namespace + `,{"token":"` + token + `"}`)); err != nil {
		c.close()
		return nil, err
	}
	ok := []byte("40" + e.namespace + ",")
	refused := []byte("44" + e.namespace + ",")
	for {
		msg, err := c.read()
		if err != nil {
			c.close()
			return nil, fmt.Errorf("namespace connect: %w", err)
		}
		switch {
		case bytes.HasPrefix(msg, ok):
			_ = c.conn.SetReadDeadline(time.Time{})
			return c, nil
		case bytes.HasPrefix(msg, refused):
			c.close()
			return nil, fmt.Errorf("%w: %s", errRefused, msg[len(refused):])
		case len(msg) == 1 && msg[0] == '2':
			if err := c.write([]byte("3")); err != nil {
				c.close()
				return nil, err
			}
		}
	}
}

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
)

// read returns the next text message; the slice is valid until the next
// read. Binary messages are skipped, pings answered; a close frame reads
// as io.EOF.
func (c *client) read() ([]byte, error) {
	for {
		op, msg, err := c.readMessage()
		if err != nil {
			return nil, err
		}
		if op == opText {
			return msg, nil
		}
	}
}

// readMessage reads one data message, answering control frames on the
// way. A message in one frame that fits the read buffer is returned in
// place, without a copy.
func (c *client) readMessage() (op byte, msg []byte, err error) {
	msg = c.msg[:0]
	fragmented := false
	for {
		fin, opcode, n, key, masked, err := c.readFrameHeader()
		if err != nil {
			return 0, nil, err
		}
		if opcode >= opClose {
			if err := c.controlFrame(opcode, n, key, masked); err != nil {
				return 0, nil, err
			}
			continue
		}
		if opcode != opContinuation {
			op = opcode
		} else if !fragmented {
			return 0, nil, errors.New("websocket: continuation frame without a message")
		}
		if len(msg)+n > maxMessage {
			return 0, nil, fmt.Errorf("websocket: message over %d bytes", maxMessage)
		}
		if fin && !fragmented && n <= c.br.Size() {
			p, err := c.br.Peek(n)
			if err != nil {
				return 0, nil, err
			}
			_, _ = c.br.Discard(n)
			if masked {
				maskBytes(key, p)
			}
			return op, p, nil
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return 0, nil, err
		}
		if masked {
			maskBytes(key, msg[start:])
		}
		c.msg = msg
		if fin {
			return op, msg, nil
		}
		fragmented = true
	}
}

// readFrameHeader reads a frame's header: FIN, opcode, payload length and
// the masking key if any (servers do not mask; accepted anyway).
func (c *client) readFrameHeader() (fin bool, opcode byte, n int, key [4]byte, masked bool, err error) {
	h, err := c.br.Peek(2)
	if err != nil {
		return false, 0, 0, key, false, err
	}
	fin, opcode, masked = h[0]&0x80 != 0, h[0]&0x0f, h[1]&0x80 != 0
	length := uint64(h[1] & 0x7f)
	_, _ = c.br.Discard(2)
	switch length {
	case 126:
		b, err := c.br.Peek(2)
		if err != nil {
			return false, 0, 0, key, false, err
		}
		length = uint64(binary.BigEndian.Uint16(b))
		_, _ = c.br.Discard(2)
	case 127:
		b, err := c.br.Peek(8)
		if err != nil {
			return false, 0, 0, key, false, err
		}
		length = binary.BigEndian.Uint64(b)
		_, _ = c.br.Discard(8)
	}
	if length > maxMessage {
		return false, 0, 0, key, false, fmt.Errorf("websocket: frame of %d bytes", length)
	}
	if masked {
		if _, err := io.ReadFull(c.br, key[:]); err != nil {
			return false, 0, 0, key, false, err
		}
	}
	return fin, opcode, int(length), key, masked, nil
}

// controlFrame handles a close, ping or pong frame: a ping is answered
// with a pong carrying its payload, a close ends the reading.
func (c *client) controlFrame(opcode byte, n int, key [4]byte, masked bool) error {
	if n > 125 {
		return fmt.Errorf("websocket: control frame of %d bytes", n)
	}
	var buf [125]byte
	p := buf[:n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	if masked {
		maskBytes(key, p)
	}
	switch opcode {
	case opClose:
		return io.EOF
	case opPing:
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.writeFrameLocked(0x80|0xA, p)
	}
	return nil
}

// maskBytes applies (or removes) a WebSocket masking key.
func maskBytes(key [4]byte, p []byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// write sends p as one text message.
func (c *client) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrameLocked(0x80|opText, p)
}

// writeFrameLocked frames p as one masked frame with the given first byte
// (FIN and opcode) and writes it in one call; c.wmu is held.
func (c *client) writeFrameLocked(first byte, p []byte) error {
	c.frame = appendFrame(c.frame[:0], first, p)
	return c.writeLocked(c.frame)
}

// writeLocked writes b in one call, moving the write deadline if it is
// due; c.wmu is held.
func (c *client) writeLocked(b []byte) error {
	if now := time.Now(); c.writeDeadline.Sub(now) < writeTimeout-writeDeadlineSlack {
		c.writeDeadline = now.Add(writeTimeout)
		_ = c.conn.SetWriteDeadline(c.writeDeadline)
	}
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// appendFrame appends p framed as one masked frame with the given first
// byte (FIN and opcode) to f.
func appendFrame(f []byte, first byte, p []byte) []byte {
	f = append(f, first)
	switch n := len(p); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	f = append(f, key[:]...)
	start := len(f)
	f = append(f, p...)
	maskBytes(key, f[start:])
	return f
}

// queueEvent frames an EVENT asking for an ack, like emit, without
// writing it: flushQueued writes everything queued in one call. For the
// read loop's goroutine only.
func (c *client) queueEvent(id int64, eventAndArgs string) {
	p := append(c.queuedPayload[:0], "42"...)
	p = append(p, c.ns...)
	p = append(p, ',')
	p = strconv.AppendInt(p, id, 10)
	p = append(p, eventAndArgs...)
	c.queuedPayload = p
	c.queued = appendFrame(c.queued, 0x80|opText, p)
}

// flushQueued writes the frames queueEvent built, in one call.
func (c *client) flushQueued() error {
	if len(c.queued) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.writeLocked(c.queued)
	c.queued = c.queued[:0]
	return err
}

// frameBuffered reports whether a whole frame is in the read buffer, so
// that reading it needs no system call.
func (c *client) frameBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	if len(b) < 2 {
		return false
	}
	h, n := 2, uint64(b[1]&0x7f)
	switch n {
	case 126:
		if len(b) < 4 {
			return false
		}
		h, n = 4, uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return false
		}
		h, n = 10, binary.BigEndian.Uint64(b[2:])
	}
	if b[1]&0x80 != 0 {
		h += 4
	}
	return n <= uint64(len(b)-h)
}

// readLoop hands every Socket.IO message to onMessage and answers pings,
// until the connection ends; it returns the error that ended it (nil on a
// close by either side).
func (c *client) readLoop(onMessage func([]byte)) error {
	for {
		if c.onIdle != nil && !c.frameBuffered() {
			c.onIdle()
		}
		msg, err := c.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(msg) == 1 && msg[0] == '2' {
			if err := c.write([]byte("3")); err != nil {
				return err
			}
			continue
		}
		if onMessage != nil {
			onMessage(msg)
		}
	}
}

func (c *client) close() { _ = c.conn.Close() }

// emit sends an EVENT asking for an ack: "42/chat,<id>" then eventAndArgs,
// the JSON array of the event name and its arguments. It allocates
// nothing: the packet and its frame are built in the client's buffers.
func (c *client) emit(id int64, eventAndArgs string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := append(c.eventPrefixLocked(id), eventAndArgs...)
	c.payload = p
	return c.writeFrameLocked(0x80|opText, p)
}

// eventPrefixLocked starts an EVENT asking for ack id in the client's
// payload buffer: "42", the namespace, a comma, the id.
func (c *client) eventPrefixLocked(id int64) []byte {
	p := append(c.payload[:0], "42"...)
	p = append(p, c.ns...)
	p = append(p, ',')
	return strconv.AppendInt(p, id, 10)
}

// emitStamped sends an EVENT asking for an ack whose arguments embed a
// number: before, then the decimal stamp, then after (the fan-out's send
// time inside its message text), built without allocating.
func (c *client) emitStamped(id int64, before string, stamp int64, after string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := append(c.eventPrefixLocked(id), before...)
	p = strconv.AppendInt(p, stamp, 10)
	p = append(p, after...)
	c.payload = p
	return c.writeFrameLocked(0x80|opText, p)
}

// ackID parses the id of an ACK packet "43/chat,<id>[...]", or -1.
func ackID(msg []byte, prefix []byte) int64 {
	if !bytes.HasPrefix(msg, prefix) {
		return -1
	}
	return leadingInt(msg[len(prefix):])
}

// leadingInt parses the decimal digits at the start of p, or returns -1
// if there are none or they overflow an int64.
func leadingInt(p []byte) int64 {
	var v int64
	n := 0
	for ; n < len(p) && p[n] >= '0' && p[n] <= '9'; n++ {
		d := int64(p[n] - '0')
		if v > (math.MaxInt64-d)/10 {
			return -1
		}
		v = v*10 + d
	}
	if n == 0 {
		return -1
	}
	return v
}
