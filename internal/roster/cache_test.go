package roster

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// redisServer runs a redis-server on a free port until the test ends.
func redisServer(t *testing.T) (url string, proc *exec.Cmd) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return "redis://" + addr + "/0", cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not listen")
		}
	}
}

func newRedis(t *testing.T, url string) *adapter.Redis {
	t.Helper()
	r, err := adapter.NewRedis(adapter.RedisOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestCacheHoldsAtMostMaxEntriesWhenAskedOfRandomRooms asks the cache of
// 50000 different rooms, as a client naming rooms at random in a guarded
// event makes it: it keeps at most MaxEntries figures (the others answer
// "not known", so the node's own figures), the heap stays within a budget
// of the entries' size, and the entries nobody reads any more are
// forgotten after Idle.
func TestCacheHoldsAtMostMaxEntriesWhenAskedOfRandomRooms(t *testing.T) {
	url, _ := redisServer(t)
	r := newRedis(t, url)
	const maxEntries = 1000
	c := NewCache(CacheOptions{Read: r.PresenceRead, MaxEntries: maxEntries, Refresh: 50 * time.Millisecond, Idle: 300 * time.Millisecond})
	c.Start()
	defer c.Close()
	before := heapInUse()
	for i := 0; i < 50000; i++ {
		c.Count("/chat", fmt.Sprintf("room-%d", i))
	}
	if n := c.Len(); n > maxEntries {
		t.Fatalf("%d entries after 50000 rooms asked, want at most %d", n, maxEntries)
	}
	// Each entry: its key (namespace and room strings), the map's slot and
	// the entry itself, well under 1 KiB; 1 MiB for the runtime's noise.
	if grew := int64(heapInUse()) - int64(before); grew > maxEntries*1024+1<<20 {
		t.Fatalf("the heap grew by %d bytes for %d entries", grew, maxEntries)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still kept after nobody read them for %s", c.Len(), time.Since(deadline.Add(-5*time.Second)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCacheAnswersTheRecordAndNeverOlderThanMaxAge records two users in a
// room through one node's adapter and reads the figures through another's
// cache: they are known shortly after the first read; with the
// redis-server stalled (SIGSTOP) the cache stops answering once its figures
// are older than MaxAge, rather than answer stale ones, and every read
// returns at once.
func TestCacheAnswersTheRecordAndNeverOlderThanMaxAge(t *testing.T) {
	url, proc := redisServer(t)
	writer, reader := newRedis(t, url), newRedis(t, url)
	ctx := context.Background()
	for _, user := range []string{"alice", "bob"} {
		if _, err := writer.PresenceJoin(ctx, time.Minute, "/chat", "room-1", user, []byte(`{}`), false, ""); err != nil {
			t.Fatal(err)
		}
	}
	const maxAge = 600 * time.Millisecond
	c := NewCache(CacheOptions{Read: reader.PresenceRead, Refresh: 100 * time.Millisecond, MaxAge: maxAge,
		FetchTimeout: 200 * time.Millisecond})
	c.Start()
	defer c.Close()
	known := func() (int, bool, bool) {
		n, ok := c.Count("/chat", "room-1")
		has, _ := c.Has("/chat", "room-1", "bob")
		return n, has, ok
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, has, ok := known()
		if ok && n == 2 && has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count %d (known %v), bob in it %v; want 2 and true", n, ok, has)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stalled := time.Now()
	for {
		start := time.Now()
		_, _, ok := known()
		if took := time.Since(start); took > time.Second { // the adapter's read timeout is 2 s
			t.Fatalf("a read waited %s with Redis stalled", took)
		}
		if !ok {
			break
		}
		// The figures were fetched at most a refresh before the stall.
		if age := time.Since(stalled); age > maxAge+500*time.Millisecond {
			t.Fatalf("still answering %s after Redis stalled, bound %s", age, maxAge)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = proc.Process.Signal(syscall.SIGCONT)
}
