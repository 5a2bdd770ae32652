package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// backend is a real HTTP server standing for an auth service: it records
// what it is sent and answers with answer.
type backend struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	last  Request
	// answer writes the response to one request.
	answer func(w http.ResponseWriter, req Request)
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, req Request)) *backend {
	t.Helper()
	b := &backend{answer: answer}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b.calls.Add(1)
		b.mu.Lock()
		b.last = req
		b.mu.Unlock()
		b.answer(w, req)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) lastRequest() Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// answerJSON answers every request with v.
func answerJSON(v any) func(http.ResponseWriter, Request) {
	return func(w http.ResponseWriter, _ Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// sessions answers as a cookie-session service: the cookie "sid" names a
// user, "sid=banned" is refused.
func sessions(w http.ResponseWriter, req Request) {
	sid := req.Cookies["sid"]
	switch {
	case sid == "":
		answerJSON(map[string]any{"allow": false, "code": "unauthorized", "message": "no session"})(w, req)
	case sid == "banned":
		answerJSON(map[string]any{"allow": false, "code": "forbidden", "message": "banned"})(w, req)
	default:
		answerJSON(map[string]any{"allow": true, "claims": map[string]any{"sub": sid, "role": "member"}, "expires_in": 60})(w, req)
	}
}

func newAuthorizer(t *testing.T, cfg Config, opts Options) *Authorizer {
	t.Helper()
	a, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func codeOf(err error) gatehouse.Code {
	var coded *gatehouse.Error
	if errors.As(err, &coded) {
		return coded.Code
	}
	return ""
}

func withSid(sid string) Request {
	return Request{Namespace: "/app", Cookies: map[string]string{"sid": sid}, Address: "192.0.2.1"}
}

func TestAuthorizeSendsWhatTheClientPresentedAndReturnsTheBackendsClaims(t *testing.T) {
	b := newBackend(t, sessions)
	a := newAuthorizer(t, Config{URL: b.srv.URL}, Options{})
	headers, cookies := Forward{Headers: []string{"User-Agent", "X-Absent"}, Cookies: []string{"sid"}}.Gather(func(name string) string {
		return map[string]string{"User-Agent": "test/1", "Cookie": "theme=dark; sid=alice"}[name]
	})
	req := Request{Namespace: "/app", Auth: json.RawMessage(`{"room":"r1"}`), Headers: headers, Cookies: cookies,
		Address: "192.0.2.1", Claims: gatehouse.Claims{"sub": "alice"}}
	d, err := a.Authorize(context.Background(), req)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if d.Claims["sub"] != "alice" || d.Claims["role"] != "member" || d.Cached || d.FailedOpen {
		t.Fatalf("decision = %+v", d)
	}
	if d.Lifetime <= 59*time.Second || d.Lifetime > 60*time.Second {
		t.Fatalf("lifetime = %v, want the answer's 60s", d.Lifetime)
	}
	got := b.lastRequest()
	if got.Reason != ReasonConnect || got.Namespace != "/app" || string(got.Auth) != `{"room":"r1"}` ||
		got.Address != "192.0.2.1" || got.Claims["sub"] != "alice" {
		t.Fatalf("backend got %+v", got)
	}
	if len(got.Headers) != 1 || got.Headers["user-agent"] != "test/1" {
		t.Fatalf("headers = %v, want only user-agent", got.Headers)
	}
	if len(got.Cookies) != 1 || got.Cookies["sid"] != "alice" {
		t.Fatalf("cookies = %v, want only sid", got.Cookies)
	}
}

func TestRefusalsReachTheCallerWithAContractCode(t *testing.T) {
	long := strings.Repeat("é", 400)
	cases := []struct {
		name     string
		status   int
		body     string
		wantCode gatehouse.Code
		wantMsg  string
	}{
		{"coded refusal", 200, `{"allow":false,"code":"forbidden","message":"banned"}`, gatehouse.CodeForbidden, "banned"},
		{"refusal without code", 200, `{"allow":false}`, gatehouse.CodeUnauthorized, "not authorized"},
		{"code outside the contract", 200, `{"allow":false,"code":"internal","message":"x"}`, gatehouse.CodeForbidden, "x"},
		{"rate limited", 200, `{"allow":false,"code":"rate_limited","message":"slow down"}`, gatehouse.CodeRateLimited, "slow down"},
		{"401 without a body", 401, ``, gatehouse.CodeUnauthorized, "not authorized"},
		{"403 with a message", 403, `{"message":"no"}`, gatehouse.CodeForbidden, "no"},
		{"long message", 200, `{"allow":false,"message":"` + long + `"}`, gatehouse.CodeUnauthorized, long[:maxMessage]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, _ Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			a := newAuthorizer(t, Config{URL: b.srv.URL}, Options{})
			_, err := a.Authorize(context.Background(), withSid("x"))
			var coded *gatehouse.Error
			if !errors.As(err, &coded) || coded.Code != tc.wantCode || coded.Message != tc.wantMsg {
				t.Fatalf("err = %v, want %s: %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestUnusableAnswersFollowThePolicy(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"server error", 500, `{"allow":true}`},
		{"not JSON", 200, `<html>`},
		{"allow missing", 200, `{"claims":{}}`},
		{"claims not an object", 200, `{"allow":true,"claims":[1]}`},
		{"negative lifetime", 200, `{"allow":true,"expires_in":-1}`},
		{"lifetime in milliseconds", 200, `{"allow":true,"expires_in":86400000000}`},
		{"answer too large", 200, `{"allow":true,"claims":{"pad":"` + strings.Repeat("x", 2000) + `"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(w http.ResponseWriter, _ Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			closed := newAuthorizer(t, Config{URL: b.srv.URL, MaxAnswer: 1024}, Options{})
			if _, err := closed.Authorize(context.Background(), withSid("x")); codeOf(err) != gatehouse.CodeUpstreamError {
				t.Fatalf("fail-closed err = %v, want upstream_error", err)
			}
			open := newAuthorizer(t, Config{URL: b.srv.URL, MaxAnswer: 1024, OnError: FailOpen}, Options{})
			req := withSid("x")
			req.Claims = gatehouse.Claims{"sub": "from-jwt"}
			d, err := open.Authorize(context.Background(), req)
			if err != nil || !d.FailedOpen || d.Claims["sub"] != "from-jwt" {
				t.Fatalf("fail-open = %+v, %v; want the request's claims, failed open", d, err)
			}
		})
	}
}

func TestSlowBackendTimesOutIntoThePolicy(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		<-release
		sessions(w, r)
	})
	defer close(release)
	closed := newAuthorizer(t, Config{URL: b.srv.URL, Timeout: 100 * time.Millisecond}, Options{})
	start := time.Now()
	_, err := closed.Authorize(context.Background(), withSid("alice"))
	if codeOf(err) != gatehouse.CodeUpstreamTimeout {
		t.Fatalf("err = %v, want upstream_timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v to time out after 100ms", took)
	}
	open := newAuthorizer(t, Config{URL: b.srv.URL, Timeout: 100 * time.Millisecond, OnError: FailOpen}, Options{})
	d, err := open.Authorize(context.Background(), withSid("bob"))
	if err != nil || !d.FailedOpen || d.Claims != nil {
		t.Fatalf("fail-open = %+v, %v; want in without claims", d, err)
	}
}

func TestBackendDownFollowsThePolicy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	closed := newAuthorizer(t, Config{URL: url}, Options{})
	if _, err := closed.Authorize(context.Background(), withSid("alice")); codeOf(err) != gatehouse.CodeUpstreamError {
		t.Fatalf("err = %v, want upstream_error", err)
	}
	open := newAuthorizer(t, Config{URL: url, OnError: FailOpen}, Options{})
	if d, err := open.Authorize(context.Background(), withSid("alice")); err != nil || !d.FailedOpen {
		t.Fatalf("fail-open = %+v, %v", d, err)
	}
}

// clock is a settable clock for the cache's TTLs.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestCacheAnswersRepeatedRequestsWithoutCallingTheBackend(t *testing.T) {
	b := newBackend(t, sessions)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	a := newAuthorizer(t, Config{URL: b.srv.URL, Cache: CacheConfig{Size: 100, TTL: 30 * time.Second, MaxBytes: 1 << 20}},
		Options{Now: clk.Now})
	ctx := context.Background()
	for range 5 {
		if _, err := a.Authorize(ctx, withSid("alice")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := a.Authorize(ctx, withSid("banned"))
	_, again := a.Authorize(ctx, withSid("banned"))
	if codeOf(err) != gatehouse.CodeForbidden || codeOf(again) != gatehouse.CodeForbidden {
		t.Fatalf("banned: %v then %v", err, again)
	}
	if n := b.calls.Load(); n != 2 {
		t.Fatalf("backend calls = %d, want 2 (alice once, banned once)", n)
	}
	d, err := a.Authorize(ctx, withSid("alice"))
	if err != nil || !d.Cached || d.Claims["sub"] != "alice" {
		t.Fatalf("cached decision = %+v, %v", d, err)
	}
	clk.advance(31 * time.Second)
	if d, err := a.Authorize(ctx, withSid("alice")); err != nil || d.Cached {
		t.Fatalf("after the TTL: %+v, %v; want a fresh answer", d, err)
	}
	if n := b.calls.Load(); n != 3 {
		t.Fatalf("backend calls = %d, want 3 after the TTL", n)
	}
}

func TestCachedAnswerNeverOutlivesItsLifetime(t *testing.T) {
	b := newBackend(t, answerJSON(map[string]any{"allow": true, "claims": map[string]any{"sub": "a"}, "expires_in": 10}))
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	a := newAuthorizer(t, Config{URL: b.srv.URL, Cache: CacheConfig{Size: 10, TTL: time.Hour, MaxBytes: 1 << 20}},
		Options{Now: clk.Now})
	ctx := context.Background()
	if _, err := a.Authorize(ctx, withSid("a")); err != nil {
		t.Fatal(err)
	}
	clk.advance(4 * time.Second)
	d, err := a.Authorize(ctx, withSid("a"))
	if err != nil || !d.Cached || d.Lifetime != 6*time.Second {
		t.Fatalf("cached = %+v, %v; want the 6s left of the answer's lifetime", d, err)
	}
	clk.advance(6 * time.Second)
	if d, err := a.Authorize(ctx, withSid("a")); err != nil || d.Cached || b.calls.Load() != 2 {
		t.Fatalf("at the end of the lifetime: %+v, %v, %d calls; want the backend asked again", d, err, b.calls.Load())
	}
}

func TestReauthorizeAsksTheBackendAndReplacesTheCachedAnswer(t *testing.T) {
	var banned atomic.Bool
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		if banned.Load() {
			r.Cookies["sid"] = "banned"
		}
		sessions(w, r)
	})
	a := newAuthorizer(t, Config{URL: b.srv.URL, Cache: CacheConfig{Size: 10, TTL: time.Hour, MaxBytes: 1 << 20}}, Options{})
	ctx := context.Background()
	if _, err := a.Authorize(ctx, withSid("alice")); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Reauthorize(ctx, withSid("alice")); err != nil || d.Cached || b.lastRequest().Reason != ReasonRefresh {
		t.Fatalf("refresh = %+v, %v, reason %q; want a fresh call", d, err, b.lastRequest().Reason)
	}
	banned.Store(true)
	if _, err := a.Reauthorize(ctx, withSid("alice")); codeOf(err) != gatehouse.CodeForbidden {
		t.Fatalf("refresh after the ban = %v, want forbidden", err)
	}
	if _, err := a.Authorize(ctx, withSid("alice")); codeOf(err) != gatehouse.CodeForbidden {
		t.Fatalf("connect after a refused refresh = %v; the cache must hold the refusal", err)
	}
	if n := b.calls.Load(); n != 3 {
		t.Fatalf("backend calls = %d, want 3", n)
	}
}

func TestOversizedPresentationIsRefusedWithoutCallingTheBackend(t *testing.T) {
	b := newBackend(t, sessions)
	a := newAuthorizer(t, Config{URL: b.srv.URL, MaxRequest: 1024}, Options{})
	req := withSid("alice")
	req.Auth = json.RawMessage(`{"pad":"` + strings.Repeat("x", 2000) + `"}`)
	if _, err := a.Authorize(context.Background(), req); codeOf(err) != gatehouse.CodePayloadTooLarge {
		t.Fatalf("err = %v, want payload_too_large", err)
	}
	if n := b.calls.Load(); n != 0 {
		t.Fatalf("backend calls = %d, want none", n)
	}
}

func TestIdenticalRequestsInFlightShareOneCall(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		<-release
		sessions(w, r)
	})
	a := newAuthorizer(t, Config{URL: b.srv.URL}, Options{})
	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			d, err := a.Authorize(context.Background(), withSid("alice"))
			if err == nil && d.Claims["sub"] != "alice" {
				err = errors.New("wrong claims")
			}
			errs <- err
		})
	}
	waitFor(t, func() bool { return a.flights.joined.Load() == callers-1 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("backend calls = %d, want 1 for %d identical requests", n, callers)
	}
}

func TestCallsBeyondMaxInFlightAreRefusedEvenWhenFailingOpen(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		<-release
		sessions(w, r)
	})
	defer close(release)
	a := newAuthorizer(t, Config{URL: b.srv.URL, MaxInFlight: 2, OnError: FailOpen}, Options{})
	for _, sid := range []string{"a", "b"} {
		go func() { _, _ = a.Authorize(context.Background(), withSid(sid)) }()
	}
	waitFor(t, func() bool { return b.calls.Load() == 2 })
	_, err := a.Authorize(context.Background(), withSid("c"))
	if codeOf(err) != gatehouse.CodeUnavailable {
		t.Fatalf("third distinct call = %v, want unavailable", err)
	}
}

func TestCallerWhoseContextEndsIsNotLetInAndLeavesTheCallToOthers(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r Request) {
		<-release
		sessions(w, r)
	})
	a := newAuthorizer(t, Config{URL: b.srv.URL, OnError: FailOpen}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := a.Authorize(ctx, withSid("alice"))
		gone <- err
	}()
	waitFor(t, func() bool { return b.calls.Load() == 1 })
	stay := make(chan *Decision, 1)
	go func() {
		d, _ := a.Authorize(context.Background(), withSid("alice"))
		stay <- d
	}()
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v, want its context's error (not failed open)", err)
	}
	close(release)
	if d := <-stay; d == nil || d.Claims["sub"] != "alice" {
		t.Fatalf("the other caller got %+v", d)
	}
}

func TestNewRejectsABadConfig(t *testing.T) {
	cases := map[string]Config{
		"no url":          {},
		"relative url":    {URL: "/authorize"},
		"ftp url":         {URL: "ftp://auth/"},
		"bad header name": {URL: "http://auth/", RequestHeaders: map[string]string{"Bad Name": "x"}},
		"header newline":  {URL: "http://auth/", RequestHeaders: map[string]string{"X-Key": "a\r\nb"}},
	}
	for name, cfg := range cases {
		if _, err := New(cfg, Options{}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestRequestHeadersReachTheBackend(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, `{"allow":true}`)
	}))
	defer srv.Close()
	a := newAuthorizer(t, Config{URL: srv.URL, RequestHeaders: map[string]string{"Authorization": "Bearer s3cret"}}, Options{})
	if _, err := a.Authorize(context.Background(), withSid("a")); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "Bearer s3cret" {
		t.Fatalf("Authorization = %v", got.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// records keeps the messages and attributes a logger writes.
type records struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	line := map[string]any{"msg": rec.Message, "level": rec.Level.String()}
	rec.Attrs(func(a slog.Attr) bool {
		line[a.Key] = a.Value.Any()
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return nil
}

func TestAnOutageIsOneWarningEveryFewSecondsWithItsCount(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/authorize?key=s3cret"
	_ = ln.Close()
	log := &records{}
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	a := newAuthorizer(t, Config{URL: down}, Options{Logger: slog.New(log), Now: clk.Now})
	for i := range 50 {
		_, _ = a.Authorize(context.Background(), withSid(fmt.Sprint(i)))
	}
	clk.advance(failureLogEvery)
	_, _ = a.Authorize(context.Background(), withSid("late"))
	if len(log.lines) != 2 || log.lines[0]["failed"] != int64(1) || log.lines[1]["failed"] != int64(50) {
		t.Fatalf("log lines = %v; want the first failure, then the 50 since", log.lines)
	}
	for _, line := range log.lines {
		if strings.Contains(fmt.Sprint(line), "s3cret") {
			t.Fatalf("a log line carries the URL's query: %v", line)
		}
	}
}
