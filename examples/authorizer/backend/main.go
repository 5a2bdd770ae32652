// Command backend is a small auth service for the Gatehouse authorizer of
// ../gateway.yaml: it keeps cookie sessions in memory and answers the
// gateway's questions about them. A socket whose session cookie names a live
// session is let in with the session's user as its claims, for a lifetime
// after which the gateway asks again; any other socket is refused.
//
// Besides POST /authorize (the gateway's), it serves what a login page
// would: POST /sessions opens a session and sets its cookie, DELETE
// /sessions/{sid} ends it. GET /stats counts the calls, and POST /control
// slows the answers down, for trying out the gateway's timeout. POST /hooks
// receives the gateway's lifecycle hooks, and GET /presence shows who is
// online and which rooms are occupied according to them.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sessionCookie is the cookie the gateway forwards (authorizer.cookies).
const sessionCookie = "session"

// request is what the gateway's authorizer posts.
type request struct {
	Namespace string            `json:"namespace"`
	Reason    string            `json:"reason"` // connect or refresh
	Auth      json.RawMessage   `json:"auth"`
	Headers   map[string]string `json:"headers"`
	Cookies   map[string]string `json:"cookies"`
	Address   string            `json:"address"`
	Claims    map[string]any    `json:"claims"`
}

// answer is what the gateway reads back.
type answer struct {
	Allow     bool           `json:"allow"`
	Claims    map[string]any `json:"claims,omitempty"`
	ExpiresIn float64        `json:"expires_in,omitempty"`
	Code      string         `json:"code,omitempty"`
	Message   string         `json:"message,omitempty"`
}

// session is one logged-in user.
type session struct {
	Sub     string    `json:"sub"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Expires time.Time `json:"-"`
}

// service holds the sessions and counts what it answers.
type service struct {
	token    string
	lifetime time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	sessions map[string]session

	// presence is what the lifecycle hooks tell (hooks.go).
	presence *presence

	delay   atomic.Int64 // nanoseconds added before each answer
	calls   atomic.Int64
	refresh atomic.Int64
	refused atomic.Int64
}

// authorize answers the gateway: POST /authorize.
func (s *service) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "unknown caller", http.StatusUnauthorized)
		return
	}
	var in request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	s.calls.Add(1)
	if in.Reason == "refresh" {
		s.refresh.Add(1)
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	out := s.decide(in)
	if !out.Allow {
		s.refused.Add(1)
	}
	s.log.Info("authorize", "reason", in.Reason, "namespace", in.Namespace, "address", in.Address, "allow", out.Allow, "code", out.Code)
	writeJSON(w, http.StatusOK, out)
}

// decide looks the session cookie up.
func (s *service) decide(in request) answer {
	sid := in.Cookies[sessionCookie]
	if sid == "" {
		return answer{Code: "unauthorized", Message: "log in first: no session cookie"}
	}
	s.mu.Lock()
	sess, ok := s.sessions[sid]
	s.mu.Unlock()
	if !ok || time.Now().After(sess.Expires) {
		return answer{Code: "unauthorized", Message: "your session has ended; log in again"}
	}
	if sess.Role == "banned" {
		return answer{Code: "forbidden", Message: "this account is suspended"}
	}
	// The socket is asked about again at the end of the lifetime, or when
	// the session ends, whichever comes first.
	lifetime := min(s.lifetime, time.Until(sess.Expires))
	return answer{
		Allow:     true,
		Claims:    map[string]any{"sub": sess.Sub, "name": sess.Name, "role": sess.Role},
		ExpiresIn: lifetime.Seconds(),
	}
}

// login opens a session, as a login form would after checking a password:
// POST /sessions {"sub", "name", "role", "ttl" (seconds)}. The answer sets
// the cookie and also returns the session id.
func (s *service) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		session
		TTL float64 `json:"ttl"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil || in.Sub == "" {
		http.Error(w, `want {"sub": "...", "name": "...", "role": "...", "ttl": seconds}`, http.StatusBadRequest)
		return
	}
	if in.Role == "" {
		in.Role = "member"
	}
	if in.TTL <= 0 {
		in.TTL = 3600
	}
	in.Expires = time.Now().Add(time.Duration(in.TTL * float64(time.Second)))
	sid := newSessionID()
	s.mu.Lock()
	s.sessions[sid] = in.session
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusCreated, map[string]any{"sid": sid, "cookie": sessionCookie + "=" + sid})
}

// logout ends a session: DELETE /sessions/{sid}. Its sockets are refused at
// their next refresh.
func (s *service) logout(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.sessions, r.PathValue("sid"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// stats counts the calls: GET /stats.
func (s *service) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int64{
		"authorize_calls": s.calls.Load(),
		"refresh_calls":   s.refresh.Load(),
		"refused":         s.refused.Load(),
	})
}

// control changes how the service answers: POST /control {"delay_ms": N}.
func (s *service) control(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DelayMS int64 `json:"delay_ms"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil {
		http.Error(w, `want {"delay_ms": N}`, http.StatusBadRequest)
		return
	}
	s.delay.Store(in.DelayMS * int64(time.Millisecond))
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authorize", s.authorize)
	mux.HandleFunc("POST /sessions", s.login)
	mux.HandleFunc("DELETE /sessions/{sid}", s.logout)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("POST /control", s.control)
	// Lifecycle hooks from the gateway (server.hooks): who is online,
	// which rooms have members.
	mux.HandleFunc("POST /hooks", s.hooks)
	mux.HandleFunc("GET /presence", s.presenceView)
	return mux
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	listen := flag.String("listen", envOr("LISTEN", "127.0.0.1:9091"), "address to listen on")
	token := flag.String("token", envOr("AUTHORIZER_TOKEN", "dev-authorizer-token"), "the secret the gateway sends as a Bearer token")
	lifetime := flag.Duration("lifetime", durationEnv("LIFETIME", 5*time.Minute), "how long an answer holds before the gateway asks again")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	svc := &service{token: *token, lifetime: *lifetime, log: log, sessions: map[string]session{}, presence: newPresence()}
	srv := &http.Server{Addr: *listen, Handler: svc.routes(), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("authorizer backend listening", "addr", *listen, "lifetime", *lifetime)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// durationEnv reads a duration (such as 30s) or a number of seconds.
func durationEnv(name string, fallback time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return fallback
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(secs * float64(time.Second))
	}
	return fallback
}
