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

// testRedis is a real redis-server on a free loopback port, restartable
// on the same port (with its data lost, as a Redis without persistence).
type testRedis struct {
	t    *testing.T
	port string
	cmd  *exec.Cmd
}

func (r *testRedis) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *testRedis) start() {
	r.t.Helper()
	var out bytes.Buffer
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	eventually(r.t, 10*time.Second, "redis-server listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+r.port)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

func (r *testRedis) stop() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// startTestRedis starts a redis-server for the test. Without the binary
// the test is skipped on a developer's machine and fails in CI.
func startTestRedis(t *testing.T) *testRedis {
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
	r := &testRedis{t: t, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	_ = ln.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

// startRedis starts a redis-server for the test and returns its URL.
func startRedis(t *testing.T) string { return startTestRedis(t).url() }

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
	// b's member reaches Redis before a's leaves: sent at once, a's leave
	// could land first and empty the room for a moment (a vacated and a
	// second occupied, as docs/backends.md says), which is not this test.
	eventually(t, 5*time.Second, "b told", func() bool { return b.pending() == 0 })
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
	// The bound is the lease and a sweep period (400ms here); the margin
	// is for a loaded machine.
	if took := time.Since(start); took > 10*lease {
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

func TestRoomsAreRecordedAgainWhenRedisLostThem(t *testing.T) {
	redis := startTestRedis(t)
	rec := &recorded{}
	const lease = 600 * time.Millisecond
	a := redisRooms(t, redis.url(), rec, lease)
	a.Changed("/chat", "lobby", true)
	eventually(t, 5*time.Second, "occupied", func() bool { return len(rec.get()) == 1 })
	redis.stop()
	redis.start() // empty: the cluster forgot that a has members in lobby
	// a's next renewal finds its lease gone and records lobby again: the
	// cluster sees it occupied anew.
	eventually(t, 10*time.Second, "lobby recorded again", func() bool { return len(rec.get()) == 2 })
	b := redisRooms(t, redis.url(), rec, lease)
	b.Changed("/chat", "lobby", true)
	eventually(t, 5*time.Second, "b told", func() bool { return b.pending() == 0 })
	a.Changed("/chat", "lobby", false)
	eventually(t, 5*time.Second, "a told", func() bool { return a.pending() == 0 })
	time.Sleep(50 * time.Millisecond)
	if got := kinds(rec.get()); len(got) != 2 {
		t.Fatalf("events %v: b joining and a leaving an occupied room must send nothing", got)
	}
	b.Changed("/chat", "lobby", false)
	eventually(t, 5*time.Second, "vacated", func() bool { return len(rec.get()) == 3 })
	if got := kinds(rec.get()); got[1] != "room_occupied lobby" || got[2] != "room_vacated lobby" {
		t.Fatalf("events %v, want occupied again after the loss, then vacated", got)
	}
}
