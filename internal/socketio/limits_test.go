package socketio

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// refusals records what Options.Refused is told.
type refusals struct {
	mu     sync.Mutex
	limits []string
}

func (r *refusals) record(limit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limits = append(r.limits, limit)
}

func (r *refusals) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.limits)
}

func TestNamespacesPerSessionAreLimited(t *testing.T) {
	h := newTestHooks("/a", "/b", "/c")
	refused := &refusals{}
	srv := newTestServer(h, Options{Limits: Limits{MaxNamespacesPerSession: 2}, Refused: refused.record})
	tc := connect(t, srv)
	tc.join(h, "/a")
	tc.join(h, "/b")
	tc.send("0/c,")
	want := `4/c,{"data":{"code":"limit_exceeded","limit":"max_namespaces_per_session"},"message":"a connection may use at most 2 namespaces"}`
	if got := tc.nextText(); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if closed, _ := tc.conn.closedWith(); closed {
		t.Fatal("the session was closed; only the CONNECT is refused")
	}
	if got := refused.all(); !slices.Equal(got, []string{LimitNamespaces}) {
		t.Errorf("refusals %v", got)
	}

	// Raising the limit lets the same session connect a third namespace.
	srv.SetLimits(Limits{MaxNamespacesPerSession: 3})
	tc.join(h, "/c")
}

func TestRoomsPerSocketAreLimited(t *testing.T) {
	h := newTestHooks("/chat")
	refused := &refusals{}
	srv := newTestServer(h, Options{Limits: Limits{MaxRoomsPerSocket: 2}, Refused: refused.record})
	s := connect(t, srv).join(h, "/chat")
	for _, room := range []string{"r1", "r2", "r2", s.ID()} {
		if err := s.Join(room); err != nil {
			t.Fatalf("Join(%q): %v", room, err)
		}
	}
	err := s.Join("r3")
	var coded *gatehouse.Error
	if !errors.As(err, &coded) || coded.Code != gatehouse.CodeLimitExceeded {
		t.Fatalf("Join past the limit: %v, want code limit_exceeded", err)
	}
	if got := s.Rooms(); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("rooms %v after a refused join", got)
	}
	if err := s.Leave("r1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Join("r3"); err != nil {
		t.Fatalf("Join after leaving one: %v", err)
	}
	srv.SetLimits(Limits{})
	for _, room := range []string{"r4", "r5", "r6"} {
		if err := s.Join(room); err != nil {
			t.Fatalf("Join(%q) with no limit: %v", room, err)
		}
	}
	if got := refused.all(); !slices.Equal(got, []string{LimitRooms}) {
		t.Errorf("refusals %v", got)
	}
}

func TestConnectTimeoutFollowsSetLimits(t *testing.T) {
	h := newTestHooks("/")
	refused := &refusals{}
	srv := newTestServer(h, Options{ConnectTimeout: time.Hour, Refused: refused.record})
	srv.SetLimits(Limits{ConnectTimeout: 10 * time.Millisecond})
	idle := connect(t, srv)
	deadline := time.After(5 * time.Second)
	for {
		if closed, _ := idle.conn.closedWith(); closed {
			break
		}
		select {
		case <-idle.conn.changed:
		case <-deadline:
			t.Fatal("idle session not closed after the new connect timeout")
		}
	}
	if got := refused.all(); !slices.Equal(got, []string{LimitConnect}) {
		t.Errorf("refusals %v", got)
	}
}

// awaitClosed waits until the session of tc is closed and returns why.
func awaitClosed(t *testing.T, tc *testClient) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if closed, reason := tc.conn.closedWith(); closed {
			return reason
		}
		select {
		case <-tc.conn.changed:
		case <-deadline:
			t.Fatal("session not closed")
		}
	}
}

// A packet whose attachments stop coming closes its session at
// BinaryPacketTimeout, the one in force when the packet began waiting; a
// session whose packets are finished stays.
func TestBinaryPacketTimeoutClosesTheSession(t *testing.T) {
	h := newTestHooks("/")
	refused := &refusals{}
	srv := newTestServer(h, Options{Limits: Limits{BinaryPacketTimeout: time.Hour}, Refused: refused.record})
	finished := connect(t, srv)
	finished.join(h, "/")
	stalled := connect(t, srv)
	stalled.join(h, "/")
	finished.send(`51-["upload",{"_placeholder":true,"num":0}]`, []byte{1, 2, 3})
	if e := h.awaitEvent(t); e.name != "upload" {
		t.Fatalf("got event %q", e.name)
	}

	srv.SetLimits(Limits{BinaryPacketTimeout: 10 * time.Millisecond})
	stalled.send(`51-["upload",{"_placeholder":true,"num":0}]`)
	if reason := awaitClosed(t, stalled); reason != "binary packet timeout" {
		t.Fatalf("closed with %q", reason)
	}
	if got := refused.all(); !slices.Equal(got, []string{LimitBinaryTimeout}) {
		t.Errorf("refusals %v", got)
	}
	if closed, _ := finished.conn.closedWith(); closed {
		t.Fatal("a session whose packet was finished was closed")
	}
}
