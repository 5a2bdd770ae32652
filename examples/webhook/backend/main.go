// Command backend is a small HTTP service that takes orders from the
// Gatehouse webhook handler of ../gateway.yaml. It answers each order with an
// ack for the client and with actions for the gateway: put the caller in the
// order's room and tell the kitchen room about the order.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// event is what the webhook handler posts.
type event struct {
	Namespace string         `json:"namespace"`
	Event     string         `json:"event"`
	Data      order          `json:"data"`
	Claims    map[string]any `json:"claims"`
	SocketID  string         `json:"socket_id"`
}

// order is the payload of the "order" event; the gateway's schema guard has
// already checked it.
type order struct {
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// answer is what the gateway reads back: the client's ack and the actions to
// perform on the caller's socket.
type answer struct {
	Reply   any      `json:"reply"`
	Actions []action `json:"actions,omitempty"`
}

// action is one of emit, broadcast, join or leave.
type action struct {
	Type  string `json:"type"`
	Event string `json:"event,omitempty"`
	Data  any    `json:"data,omitempty"`
	Room  string `json:"room,omitempty"`
}

// orderService numbers orders; a real one would store them.
type orderService struct {
	token  string
	lastID atomic.Int64
	log    *slog.Logger
}

func (s *orderService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "unknown caller", http.StatusUnauthorized)
		return
	}
	var in event
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	if in.Event != "order" {
		// Answered, not refused: a 4xx would reach the client as
		// upstream_error, when this is a plain "no".
		writeJSON(w, answer{Reply: map[string]any{"ok": false, "reason": "unknown event " + in.Event}})
		return
	}

	id := fmt.Sprintf("ord-%d", s.lastID.Add(1))
	user, _ := in.Claims["sub"].(string)
	s.log.Info("order", "id", id, "user", user, "item", in.Data.Item, "quantity", in.Data.Quantity)
	writeJSON(w, answer{
		Reply: map[string]any{"ok": true, "order_id": id},
		Actions: []action{
			// The caller follows its order's updates in a room of its own.
			{Type: "join", Room: "order:" + id},
			{Type: "broadcast", Room: "kitchen", Event: "order:new", Data: map[string]any{
				"order_id": id, "user": user, "item": in.Data.Item, "quantity": in.Data.Quantity,
			}},
			{Type: "emit", Event: "order:status", Data: map[string]any{"order_id": id, "status": "received"}},
		},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	listen := flag.String("listen", envOr("LISTEN", "127.0.0.1:9090"), "address to listen on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	mux := http.NewServeMux()
	mux.Handle("/events", &orderService{token: envOr("BACKEND_TOKEN", "dev-backend-token"), log: log})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	log.Info("order backend listening", "addr", *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("backend stopped", "err", err)
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
