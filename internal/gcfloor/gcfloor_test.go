package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// These tests change the process's collector settings: none runs in
// parallel, and each puts GOGC back.

// sink keeps the compiler from dropping the garbage the tests make.
var sink []byte

// churn allocates total bytes of short-lived garbage in 1 KiB pieces, as
// events do, and returns how many collections ran meanwhile.
func churn(total int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for n := 0; n < total; n += 1 << 10 {
		sink = make([]byte, 1<<10)
	}
	sink = nil
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// gogc reads the GOGC in force from runtime/metrics.
func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("runtime/metrics has no /gc/gogc:percent")
	}
	return int(s[0].Value.Uint64())
}

// waitForGOGC collects until GOGC is want (the floor adjusts it from the
// cleanup that follows a collection), for up to two seconds.
func waitForGOGC(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for gogc(t) != want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if got := gogc(t); got != want {
		t.Fatalf("GOGC = %d, want %d", got, want)
	}
}

func TestFloorCollectsFarLessOftenWhileTheLiveHeapIsSmall(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const garbage = 256 << 20
	runtime.GC()
	without := churn(garbage)

	f := Start(64 << 20)
	defer f.Stop()
	runtime.GC()
	with := churn(garbage)
	t.Logf("collections while allocating %d MiB: %d without the floor, %d with a 64 MiB floor", garbage>>20, without, with)
	// The test binary keeps well under 4 MiB live: the runtime's own goal
	// (4 MiB) collects every few MiB, the floor every ~64 MiB.
	if with*4 > without {
		t.Fatalf("%d collections with the floor, %d without: want at most a quarter", with, without)
	}
}

func TestFloorLeavesGOGCAloneOnceTheLiveHeapIsLarger(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	f := Start(16 << 20)
	defer f.Stop()
	runtime.GC()
	if p := gogc(t); p <= 100 {
		t.Fatalf("GOGC = %d with a small live heap under a 16 MiB floor, want it raised", p)
	}
	// 24 MiB kept live puts twice the live heap above the floor.
	live := make([][]byte, 24)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	waitForGOGC(t, 100)
	runtime.KeepAlive(live)
}

func TestStopPutsBackTheGOGCInForceBefore(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	f := Start(64 << 20)
	runtime.GC()
	if p := gogc(t); p == 150 {
		t.Fatal("the floor did not raise GOGC above 150 with a small live heap")
	}
	f.Stop()
	if p := gogc(t); p != 150 {
		t.Fatalf("GOGC = %d after Stop, want 150", p)
	}
	// The cleanup armed before Stop still runs; it must change nothing.
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if p := gogc(t); p != 150 {
		t.Fatalf("GOGC = %d after collections following Stop, want 150", p)
	}
}

func TestGoalPercent(t *testing.T) {
	for _, c := range []struct {
		name                string
		minHeap, live, root uint64
		base, want          int
	}{
		{"small live heap: the goal is the floor", 32 << 20, 8 << 20, 0, 100, 300},
		{"roots count toward the goal", 32 << 20, 8 << 20, 8 << 20, 100, 150},
		{"tiny live heap: the runtime's minimum, scaled, is the floor", 32 << 20, 1 << 20, 0, 100, 800},
		{"twice the live heap above the floor: base", 32 << 20, 20 << 20, 0, 100, 100},
		{"live heap above the floor: base", 32 << 20, 40 << 20, 0, 100, 100},
		{"a higher base is kept", 32 << 20, 4 << 20, 0, 1000, 1000},
		{"nothing measured yet: base", 32 << 20, 0, 0, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := goalPercent(c.minHeap, c.live, c.root, c.base); got != c.want {
				t.Fatalf("goalPercent = %d, want %d", got, c.want)
			}
		})
	}
}
