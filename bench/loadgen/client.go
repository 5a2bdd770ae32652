package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// endpoint is where and how clients connect: one server, one namespace,
// one HS256 secret.
type endpoint struct {
	// wsURL is the Engine.IO WebSocket URL (transport=websocket, EIO=4).
	wsURL     string
	namespace string
	secret    []byte
	// perSource is how many connections share one source address before
	// the next one (127.0.0.2, 127.0.0.3, ...) is used, so that more
	// connections than one address has ephemeral ports can be opened.
	perSource int
	dialer    *websocket.Dialer
}

// newEndpoint checks that addr is a loopback host:port and prepares the
// dialer. The load tool only ever talks to this machine.
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
	u := url.URL{Scheme: "ws", Host: net.JoinHostPort(ip.String(), port), Path: path, RawQuery: "EIO=4&transport=websocket"}
	return &endpoint{
		wsURL:     u.String(),
		namespace: namespace,
		secret:    []byte(secret),
		perSource: perSource,
		dialer: &websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			// Small buffers keep the client side cheap at 100k connections;
			// larger frames still work, they just take more reads.
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
		},
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

// client is one Engine.IO/Socket.IO connection on the WebSocket transport.
type client struct {
	ws  *websocket.Conn
	ns  string
	wmu sync.Mutex
	buf bytes.Buffer
}

// errRefused is a CONNECT_ERROR from the server.
var errRefused = errors.New("namespace connect refused")

// connect opens connection number i with the given token and returns once
// the namespace CONNECT is acknowledged.
func (e *endpoint) connect(ctx context.Context, i int, token string) (*client, error) {
	d := *e.dialer
	if local := e.sourceAddr(i); local != nil {
		nd := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	ws, _, err := d.DialContext(ctx, e.wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.wsURL, err)
	}
	c := &client{ws: ws, ns: e.namespace}
	if deadline, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(deadline)
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
			_ = ws.SetReadDeadline(time.Time{})
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

// read returns the next text message; the slice is valid until the next
// read.
func (c *client) read() ([]byte, error) {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		c.buf.Reset()
		if _, err := c.buf.ReadFrom(r); err != nil {
			return nil, err
		}
		if typ == websocket.TextMessage {
			return c.buf.Bytes(), nil
		}
	}
}

func (c *client) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, p); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// readLoop hands every Socket.IO message to onMessage and answers pings,
// until the connection ends; it returns the error that ended it (nil on a
// close by this side).
func (c *client) readLoop(onMessage func([]byte)) error {
	for {
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

func (c *client) close() { _ = c.ws.Close() }

// emit sends an EVENT asking for an ack: "42/chat,<id>" then eventAndArgs,
// the JSON array of the event name and its arguments.
func (c *client) emit(id int64, eventAndArgs string) error {
	p := make([]byte, 0, 16+len(c.ns)+len(eventAndArgs))
	p = append(p, "42"...)
	p = append(p, c.ns...)
	p = append(p, ',')
	p = strconv.AppendInt(p, id, 10)
	p = append(p, eventAndArgs...)
	return c.write(p)
}

// ackID parses the id of an ACK packet "43/chat,<id>[...]", or -1.
func ackID(msg []byte, prefix []byte) int64 {
	if !bytes.HasPrefix(msg, prefix) {
		return -1
	}
	rest := msg[len(prefix):]
	var id int64
	n := 0
	for n < len(rest) && n < 18 && rest[n] >= '0' && rest[n] <= '9' {
		id = id*10 + int64(rest[n]-'0')
		n++
	}
	if n == 0 {
		return -1
	}
	return id
}
