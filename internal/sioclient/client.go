package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// writeTimeout bounds each frame the client writes.
const writeTimeout = 5 * time.Second

// eventBuffer is how many received events wait for a reader of Events;
// later ones are dropped (and counted) rather than stall the connection.
const eventBuffer = 256

// ErrClosed is returned once the connection has ended.
var ErrClosed = errors.New("sioclient: connection closed")

// ConnectError is a namespace CONNECT refused with CONNECT_ERROR.
type ConnectError struct {
	Message string
	Data    map[string]any
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("sioclient: connect refused: %s (%v)", e.Message, e.Data)
}

// Code is the data.code of the refusal, "" when absent.
func (e *ConnectError) Code() string {
	code, _ := e.Data["code"].(string)
	return code
}

// Event is an event or a DISCONNECT received from the server; a DISCONNECT
// has the Name "disconnect" and no arguments.
type Event struct {
	Namespace string
	Name      string
	Args      []json.RawMessage
}

// Client is one Engine.IO session. Its methods are safe for concurrent use.
type Client struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	events  chan Event
	done    chan struct{}

	mu       sync.Mutex
	nextID   int64
	acks     map[int64]chan []json.RawMessage
	connects map[string]chan connectResult
	reason   string
	dropped  int
}

type connectResult struct {
	sid string
	err error
}

// Dial opens a session on the Engine.IO endpoint at url, such as
// "ws://127.0.0.1:8080/socket.io/", and waits for its open packet.
func Dial(ctx context.Context, url string) (*Client, error) {
	return DialHeader(ctx, url, nil)
}

// DialHeader is Dial with headers on the handshake request, such as a
// Cookie.
func DialHeader(ctx context.Context, url string, header http.Header) (*Client, error) {
	target := url + "?EIO=4&transport=websocket"
	if strings.Contains(url, "?") {
		target = url + "&EIO=4&transport=websocket"
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, target, header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("sioclient: dial %s: status %d: %w", url, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("sioclient: dial %s: %w", url, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(deadline)
	}
	_, open, err := ws.ReadMessage()
	if err != nil || len(open) == 0 || open[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("sioclient: no open packet (%q): %v", open, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	c := &Client{
		ws:       ws,
		events:   make(chan Event, eventBuffer),
		done:     make(chan struct{}),
		acks:     make(map[int64]chan []json.RawMessage),
		connects: make(map[string]chan connectResult),
	}
	go c.readLoop()
	return c, nil
}

// Connect joins namespace nsp ("/chat") with the CONNECT payload auth (nil
// for none) and returns the socket id, or a *ConnectError.
func (c *Client) Connect(ctx context.Context, nsp string, auth any) (string, error) {
	result := make(chan connectResult, 1)
	c.mu.Lock()
	c.connects[nsp] = result
	c.mu.Unlock()
	packet := "40" + nspPrefix(nsp)
	if auth != nil {
		data, err := json.Marshal(auth)
		if err != nil {
			return "", fmt.Errorf("sioclient: auth: %w", err)
		}
		packet += string(data)
	}
	if err := c.write(packet); err != nil {
		return "", err
	}
	select {
	case r := <-result:
		return r.sid, r.err
	case <-c.done:
		return "", ErrClosed
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Emit sends an event without asking for an acknowledgement.
func (c *Client) Emit(nsp, event string, args ...any) error {
	data, err := encodeEvent(event, args)
	if err != nil {
		return err
	}
	return c.write("42" + nspPrefix(nsp) + data)
}

// EmitWithAck sends an event and waits for its acknowledgement's arguments.
func (c *Client) EmitWithAck(ctx context.Context, nsp, event string, args ...any) ([]json.RawMessage, error) {
	data, err := encodeEvent(event, args)
	if err != nil {
		return nil, err
	}
	reply := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.acks[id] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
	}()
	if err := c.write("42" + nspPrefix(nsp) + strconv.FormatInt(id, 10) + data); err != nil {
		return nil, err
	}
	select {
	case args := <-reply:
		return args, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Events are the events and DISCONNECTs received, in order.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Reason says how the connection ended, once Done is closed: "server
// close" when the server sent the Engine.IO close packet, "client close"
// after Close, otherwise the transport's error.
func (c *Client) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Dropped counts the events not kept because nobody read Events.
func (c *Client) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// Close ends the session with a close packet and waits for the reader.
func (c *Client) Close() error {
	c.setReason("client close")
	_ = c.write("1")
	err := c.ws.Close()
	<-c.done
	return err
}

func (c *Client) setReason(reason string) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
	}
	c.mu.Unlock()
}

func (c *Client) write(text string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		return fmt.Errorf("sioclient: write: %w", err)
	}
	return nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer c.ws.Close()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.setReason("transport error: " + err.Error())
			return
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case '1':
			c.setReason("server close")
			return
		case '2':
			if err := c.write("3" + string(data[1:])); err != nil {
				c.setReason("transport error: " + err.Error())
				return
			}
		case '4':
			c.onPacket(data[1:])
		}
	}
}

// onPacket handles one Socket.IO packet: type, namespace, id, JSON.
func (c *Client) onPacket(p []byte) {
	if len(p) == 0 {
		return
	}
	typ, rest := p[0], p[1:]
	nsp := "/"
	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			nsp, rest = string(rest), nil
		} else {
			nsp, rest = string(rest[:end]), rest[end+1:]
		}
	}
	id := int64(-1)
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits > 0 {
		id, _ = strconv.ParseInt(string(rest[:digits]), 10, 64)
		rest = rest[digits:]
	}
	switch typ {
	case '0':
		var body struct {
			SID string `json:"sid"`
		}
		_ = json.Unmarshal(rest, &body)
		c.settleConnect(nsp, connectResult{sid: body.SID})
	case '4':
		refusal := &ConnectError{}
		var body struct {
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal(rest, &body); err == nil {
			refusal.Message, refusal.Data = body.Message, body.Data
		}
		c.settleConnect(nsp, connectResult{err: refusal})
	case '1':
		c.deliver(Event{Namespace: nsp, Name: "disconnect"})
	case '2':
		var args []json.RawMessage
		if err := json.Unmarshal(rest, &args); err != nil || len(args) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(args[0], &name)
		c.deliver(Event{Namespace: nsp, Name: name, Args: args[1:]})
	case '3':
		var args []json.RawMessage
		_ = json.Unmarshal(rest, &args)
		c.mu.Lock()
		reply, ok := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ok {
			reply <- args
		}
	}
}

func (c *Client) settleConnect(nsp string, r connectResult) {
	c.mu.Lock()
	result, ok := c.connects[nsp]
	delete(c.connects, nsp)
	c.mu.Unlock()
	if ok {
		result <- r
	}
}

func (c *Client) deliver(ev Event) {
	select {
	case c.events <- ev:
	default:
		c.mu.Lock()
		c.dropped++
		c.mu.Unlock()
	}
}

func nspPrefix(nsp string) string {
	if nsp == "" || nsp == "/" {
		return ""
	}
	return nsp + ","
}

func encodeEvent(event string, args []any) (string, error) {
	data, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return "", fmt.Errorf("sioclient: event %q: %w", event, err)
	}
	return string(data), nil
}
