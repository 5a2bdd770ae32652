// Command bare is the ceiling of the benchmarks: a fasthttp/websocket
// server that speaks just enough Engine.IO v4 / Socket.IO v5 for the load
// tool's scenarios (WebSocket transport, namespace /chat, the whoami and
// sendMessage events with acks, broadcast to every socket) and nothing of a
// gateway: no JWT verification, no guards, no config, no rooms.
//
//	bare --listen 127.0.0.1:8070
//
// Each connection has a reader goroutine and a writer goroutine fed by a
// bounded channel, so a broadcast encodes its packet once and only queues a
// shared slice per socket, as Gatehouse does.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// sendQueue is the packets buffered per connection before it is dropped
// as a slow consumer (Gatehouse's default send_queue).
const sendQueue = 256

// openPacket is the Engine.IO handshake, with the defaults of Gatehouse and
// socket.io (25 s ping interval, 20 s timeout, 1 MB payloads); bare never
// pings, clients answer pings anyway.
const openPacket = `0{"sid":"%s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

type conn struct {
	ws   *websocket.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *conn) close() { c.once.Do(func() { close(c.done) }) }

// send queues a packet; a full queue drops the connection.
func (c *conn) send(p []byte) {
	select {
	case c.out <- p:
	case <-c.done:
	default:
		c.close()
	}
}

type hub struct {
	mu    sync.RWMutex
	conns map[*conn]struct{}
	next  atomic.Uint64
}

func (h *hub) add(c *conn) {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *hub) broadcast(p []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.conns {
		c.send(p)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8070", "address to listen on (host:port)")
	flag.Parse()
	if err := run(*listen); err != nil {
		log.Fatal(err)
	}
}

func run(listen string) error {
	h := &hub{conns: make(map[*conn]struct{})}
	upgrader := websocket.FastHTTPUpgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		CheckOrigin:     func(*fasthttp.RequestCtx) bool { return true },
	}
	server := &fasthttp.Server{
		Name: "bare",
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/healthz" {
				ctx.SetBodyString("ok")
				return
			}
			if string(ctx.Path()) != "/socket.io/" || string(ctx.QueryArgs().Peek("transport")) != "websocket" {
				ctx.Error("websocket transport only", fasthttp.StatusBadRequest)
				return
			}
			err := upgrader.Upgrade(ctx, func(ws *websocket.Conn) { h.serve(ws) })
			if err != nil {
				log.Printf("upgrade: %v", err)
			}
		},
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = server.Shutdown()
	}()
	log.Printf("bare listening on %s", ln.Addr())
	if err := server.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// serve runs one connection: the writer in its own goroutine, the reader
// here.
func (h *hub) serve(ws *websocket.Conn) {
	c := &conn{ws: ws, out: make(chan []byte, sendQueue), done: make(chan struct{})}
	sid := strconv.FormatUint(h.next.Add(1), 36)
	c.out <- []byte(fmt.Sprintf(openPacket, sid))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case p := <-c.out:
				if err := ws.WriteMessage(websocket.TextMessage, p); err != nil {
					c.close()
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	defer func() {
		h.remove(c)
		c.close()
		_ = ws.Close()
		<-writerDone
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if !h.handle(c, sid, data) {
			return
		}
	}
}

var (
	connectPrefix = []byte("40/chat,")
	eventPrefix   = []byte("42/chat,")
)

// handle answers one Engine.IO packet; false ends the connection.
func (h *hub) handle(c *conn, sid string, data []byte) bool {
	switch {
	case len(data) == 0:
		return false
	case data[0] == '1': // close
		return false
	case data[0] == '2': // ping from a client
		c.send([]byte("3"))
	case data[0] == '3': // pong
	case bytes.HasPrefix(data, connectPrefix):
		c.send([]byte(`40/chat,{"sid":"` + sid + `"}`))
		h.add(c)
	case bytes.HasPrefix(data, eventPrefix):
		h.event(c, data[len(eventPrefix):])
	}
	return true
}

// event handles `<id>["name",args...]`: whoami acks a fixed object,
// sendMessage broadcasts its message to every socket and acks {ok:true}.
func (h *hub) event(c *conn, rest []byte) {
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	id, payload := rest[:i], rest[i:]
	var args []json.RawMessage
	if json.Unmarshal(payload, &args) != nil || len(args) == 0 {
		return
	}
	var reply string
	switch string(args[0]) {
	case `"whoami"`:
		reply = `[{"sub":"bare"}]`
	case `"sendMessage"`:
		var body struct {
			Message json.RawMessage `json:"message"`
		}
		if len(args) < 2 || json.Unmarshal(args[1], &body) != nil || len(body.Message) == 0 {
			reply = `[{"error":{"code":"invalid_payload","message":"message required"}}]`
			break
		}
		p := make([]byte, 0, 64+len(body.Message))
		p = append(p, `42/chat,["message",{"user":"bare","username":"","message":`...)
		p = append(p, body.Message...)
		p = append(p, "}]"...)
		h.broadcast(p)
		reply = `[{"ok":true}]`
	default:
		reply = `[{"error":{"code":"unknown_event","message":"unknown event"}}]`
	}
	if len(id) > 0 {
		c.send([]byte("43/chat," + string(id) + reply))
	}
}
