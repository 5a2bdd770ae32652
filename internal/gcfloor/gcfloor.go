// Package gcfloor keeps Go's garbage collector from running at the pace of a
// small heap.
//
// The runtime starts the next collection when the heap reaches its goal:
// twice what the last one found live (GOGC=100), 4 MiB at least. A gateway
// with few connections keeps a few MiB live, so at thousands of events a
// second it collects twice a second or more. Each collection's mark phase
// takes processors from the read goroutines for a few milliseconds: on two
// CPUs an event that arrives meanwhile waits about ten times longer for a
// processor than one that does not, and such events are the slowest acks
// in a thousand. A Floor raises the goal to at least MinHeap while the live
// heap is small and leaves GOGC's own pacing alone once twice the live heap
// is above it: memory at scale does not change, and a small process holds
// at most MinHeap of heap.
//
// The package knows nothing of the gateway; the process that owns the
// runtime's settings (the run command) starts one.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultMinHeap is the floor the run command keeps: about the heap a few
// hundred connections fill anyway, well below what thousands of idle
// connections keep live (twice their live heap is over it, so the floor is
// off for them).
const DefaultMinHeap = 32 << 20

// The runtime/metrics the goal is computed from: the heap the last
// collection marked live, and the other roots it scans (goroutine stacks,
// globals), which the runtime's goal counts too.
const (
	metricLive    = "/gc/heap/live:bytes"
	metricStacks  = "/gc/scan/stack:bytes"
	metricGlobals = "/gc/scan/globals:bytes"
)

// Floor adjusts GOGC after every collection so that the next goal is at
// least its minimum heap. Its methods are safe for concurrent use.
type Floor struct {
	minHeap uint64
	// base is the GOGC in force when the floor started, kept whenever the
	// floor is above it, and put back by Stop.
	base int

	mu      sync.Mutex
	stopped bool
	percent int
	samples []metrics.Sample
}

// Start installs a floor of minHeap bytes under the collector's goal, from
// the next collection on (and at once from what the last one found), until
// Stop.
func Start(minHeap uint64) *Floor {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	f := &Floor{
		minHeap: minHeap,
		base:    base,
		percent: base,
		samples: []metrics.Sample{{Name: metricLive}, {Name: metricStacks}, {Name: metricGlobals}},
	}
	f.cycle()
	return f
}

// Stop puts back the GOGC in force before Start and stops adjusting it.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	if f.percent != f.base {
		debug.SetGCPercent(f.base)
	}
}

// cycle runs after each collection: it sets GOGC for the next one and
// arms itself for the one after.
func (f *Floor) cycle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || f.base < 0 {
		return // stopped, or the collector is off (GOGC=off)
	}
	metrics.Read(f.samples)
	percent := goalPercent(f.minHeap, f.value(0), f.value(1)+f.value(2), f.base)
	if percent != f.percent {
		debug.SetGCPercent(percent)
		f.percent = percent
	}
	// A sentinel that nothing references is found unreachable by the next
	// collection, whose end runs its cleanup: one call per cycle.
	sentinel := new(cycleSentinel)
	runtime.AddCleanup(sentinel, (*Floor).cycle, f)
}

// value is sample i in bytes, or 0 if this runtime does not know it.
func (f *Floor) value(i int) uint64 {
	if v := f.samples[i].Value; v.Kind() == metrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}

// cycleSentinel is allocated only to be collected. At 16 bytes it gets an
// object of its own: the runtime packs smaller pointer-free objects
// together, and one of them kept alive would keep the sentinel too.
type cycleSentinel struct{ _ [16]byte }

// runtimeHeapMinimum is the runtime's smallest goal at GOGC=100; it scales
// with GOGC (a GOGC of 800 makes it 32 MiB), so it bounds the GOGC that
// puts the goal at the floor too.
const runtimeHeapMinimum = 4 << 20

// goalPercent returns the GOGC that sets the collector's next goal at
// minHeap, or base when base reaches it already. The runtime's goal is the
// larger of live + (live + roots) * GOGC/100 and 4 MiB * GOGC/100.
func goalPercent(minHeap, live, roots uint64, base int) int {
	scan := live + roots
	if live >= minHeap || scan == 0 {
		return base
	}
	percent := min((minHeap-live)*100/scan, minHeap*100/runtimeHeapMinimum)
	return max(int(percent), base)
}
