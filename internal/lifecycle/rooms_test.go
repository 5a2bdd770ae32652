package lifecycle

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// startRedis starts a real redis-server on a free loopback port for the
// test and returns its URL. Without the binary the test is skipped on a
// developer's machine and fails in CI.
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on PATH (CI must install it): %v", err)
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	var out bytes.Buffer
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	eventually(t, 10*time.Second, "redis-server listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return "redis://127.0.0.1:" + port + "/0"
}

// recorded keeps the events that Rooms emit.
type recorded struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorded) emit(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorded) get() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// redisRooms returns Rooms of a node of a cluster on url, emitting into rec.
func redisRooms(t *testing.T, url string, rec *recorded, nodeTimeout time.Duration) *Rooms {
	t.Helper()
	a, err := adapter.NewRedis(adapter.RedisOptions{URL: url, Prefix: "gh-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r := NewRooms(RoomsOptions{Emit: rec.emit, Occupancy: a, NodeTimeout: nodeTimeout,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	r.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func kinds(events []Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Type + " " + ev.Room
	}
	return out
}

func TestRoomsOnOneNodeSendEachChangeOfTheNode(t *testing.T) {
	rec := &recorded{}
	r := NewRooms(RoomsOptions{Emit: rec.emit})
	r.Changed("/chat", "lobby", true)
	r.Changed("/chat", "lobby", false)
	got := kinds(rec.get())
	if len(got) != 2 || got[0] != "room_occupied lobby" || got[1] != "room_vacated lobby" {
		t.Fatalf("events %v, want occupied then vacated", got)
	}
}

func TestRoomsOnTwoNodesSendOneOccupiedAndOneVacatedPerRoom(t *testing.T) {
	url := startRedis(t)
	rec := &recorded{}
	a := redisRooms(t, url, rec, 5*time.Second)
	b := redisRooms(t, url, rec, 5*time.Second)
	a.Changed("/chat", "lobby", true)
	eventually(t, 5*time.Second, "occupied", func() bool { return len(rec.get()) == 1 })
	b.Changed("/chat", "lobby", true)
	a.Changed("/chat", "lobby", false)
	eventually(t, 5*time.Second, "both nodes told", func() bool { return a.pending() == 0 && b.pending() == 0 })
	b.Changed("/chat", "lobby", false)
	eventually(t, 5*time.Second, "vacated", func() bool { return len(rec.get()) == 2 })
	time.Sleep(100 * time.Millisecond) // nothing more comes
	events := rec.get()
	if got := kinds(events); len(got) != 2 || got[0] != "room_occupied lobby" || got[1] != "room_vacated lobby" {
		t.Fatalf("events %v, want one occupied and one vacated for the cluster", got)
	}
	if !events[1].Time.After(events[0].Time) {
		t.Errorf("vacated at %v is not after occupied at %v on the shared clock", events[1].Time, events[0].Time)
	}
}

func TestRoomsOfANodeThatDiedAreVacatedOnceItsLeaseLapses(t *testing.T) {
	url := startRedis(t)
	rec := &recorded{}
	const lease = 300 * time.Millisecond
	dead := redisRooms(t, url, rec, lease)
	alive := redisRooms(t, url, rec, lease)
	dead.Changed("/chat", "lobby", true)
	eventually(t, 5*time.Second, "occupied", func() bool { return len(rec.get()) == 1 })
	// The node stops renewing its lease without leaving its rooms, as a
	// crashed process would.
	dead.cancel()
	<-dead.done
	start := time.Now()
	eventually(t, 5*time.Second, "the dead node's room vacated", func() bool { return len(rec.get()) == 2 })
	if got := kinds(rec.get()); got[1] != "room_vacated lobby" {
		t.Fatalf("events %v, want the room vacated", got)
	}
	if took := time.Since(start); took > 4*lease {
		t.Errorf("vacated after %v, want within the lease and a sweep period (~%v)", took, lease+lease/3)
	}
	_ = alive
}

func TestRoomsCloseVacatesWhatTheNodeStillHolds(t *testing.T) {
	url := startRedis(t)
	rec := &recorded{}
	r := redisRooms(t, url, rec, 5*time.Second)
	r.Changed("/chat", "a", true)
	r.Changed("/chat", "b", true)
	eventually(t, 5*time.Second, "occupied", func() bool { return len(rec.get()) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.get(); len(got) != 4 || got[2].Type != KindRoomVacated || got[3].Type != KindRoomVacated {
		t.Fatalf("events %v, want both rooms vacated at close", kinds(got))
	}
}
