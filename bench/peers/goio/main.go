package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func main() {
	if err := run(); err != nil {
		log.Fatal("goio: ", err)
	}
}

// settings are the environment variables the Node baseline reads.
type settings struct {
	secret, addr string
	rate, burst  float64
}

func readSettings() (settings, error) {
	s := settings{secret: os.Getenv("JWT_SECRET")}
	if s.secret == "" {
		return s, errors.New("JWT_SECRET is required")
	}
	host, port := envOr("HOST", "127.0.0.1"), envOr("PORT", "8060")
	s.addr = net.JoinHostPort(host, port)
	var err error
	if s.rate, err = strconv.ParseFloat(envOr("RATE_LIMIT", "100000"), 64); err != nil {
		return s, fmt.Errorf("RATE_LIMIT: %w", err)
	}
	if s.burst, err = strconv.ParseFloat(envOr("RATE_BURST", "100000"), 64); err != nil {
		return s, fmt.Errorf("RATE_BURST: %w", err)
	}
	return s, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run() error {
	cfg, err := readSettings()
	if err != nil {
		return err
	}
	io, handler := newPeer(cfg)
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		io.Close(nil)
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("go socket.io peer (zishang520/socket.io v3) listening on %s", cfg.addr)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newPeer is the socket.io server and the HTTP handler serving it on
// /socket.io/ and /healthz.
func newPeer(cfg settings) (*socket.Server, http.Handler) {
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetCors(&types.Cors{Origin: "*"})
	io := socket.NewServer(nil, nil)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(opts))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mountChat(io, newVerifier(cfg.secret), newLimiter(cfg.rate, cfg.burst))
	return io, mux
}

// mountChat sets up /chat: the token check on CONNECT, then every event
// through the table of events, answered by ack or, without one, by an
// "exception" event, as the Node baseline does.
func mountChat(io *socket.Server, v *verifier, l *limiter) {
	c := &chat{nsp: io.Of("/chat", nil), limiter: l}
	c.nsp.Use(func(s *socket.Socket, next func(*socket.ExtendedError)) {
		claims, err := v.verify(tokenOf(s))
		if err != nil {
			ce := unauthorized("invalid token")
			errors.As(err, &ce)
			next(socket.NewExtendedError(ce.message, map[string]any{"code": ce.code}))
			return
		}
		s.SetData(claims)
		next(nil)
	})
	_ = c.nsp.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		s.OnAny(func(args ...any) { c.onEvent(s, args) })
	})
}

// The error replies, with their keys in the Node baseline's order.
type (
	failure struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	ackError struct {
		Error failure `json:"error"`
	}
	exception struct {
		Status  string `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Event   string `json:"event"`
	}
)

// onEvent answers one event: args are its name, its arguments and, last,
// the ack function when the client asked for one.
func (c *chat) onEvent(s *socket.Socket, args []any) {
	if len(args) == 0 {
		return
	}
	var ack socket.Ack
	if f, ok := args[len(args)-1].(socket.Ack); ok {
		ack, args = f, args[:len(args)-1]
	}
	if len(args) == 0 {
		return
	}
	event, _ := args[0].(string)
	var data any
	if len(args) > 1 {
		data = args[1]
	}
	reply, err := c.dispatch(s, event, data)
	if err != nil {
		var ce *codedError
		if !errors.As(err, &ce) {
			log.Printf("event %q: %v", event, err)
			ce = &codedError{"internal", "internal error"}
		}
		if ack != nil {
			ack([]any{ackError{Error: failure{Code: ce.code, Message: ce.message}}}, nil)
		} else {
			_ = s.Emit("exception", exception{Status: "error", Code: ce.code, Message: ce.message, Event: event})
		}
		return
	}
	if ack != nil {
		ack([]any{reply}, nil)
	}
}

// dispatch runs the event's handler; a panic in it is an internal error,
// as a throw is in the Node baseline.
func (c *chat) dispatch(s *socket.Socket, event string, data any) (reply any, err error) {
	h, ok := events[event]
	if !ok {
		return nil, &codedError{"unknown_event", "unknown event " + event}
	}
	defer func() {
		if p := recover(); p != nil {
			reply, err = nil, fmt.Errorf("event %s: %v", event, p)
		}
	}()
	user, _ := s.Data().(jwt.MapClaims)
	return h(c, s, user, data)
}
