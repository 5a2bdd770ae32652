package gateway

import (
	"sync"
	"testing"
	"time"
)

func TestSerialRunsInPlaceWhenNothingIsQueued(t *testing.T) {
	var q serial
	if !q.enterInline() {
		t.Fatal("enterInline refused with an empty queue")
	}
	if !q.running {
		t.Error("the executor does not count the in-place work as running")
	}
	q.leaveInline()
	if q.running {
		t.Error("the executor still counts itself running")
	}
}

func TestSerialKeepsOrderBehindQueuedWork(t *testing.T) {
	var q serial
	var mu sync.Mutex
	var order []int
	record := func(i int) func() {
		return func() {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}
	}
	release := make(chan struct{})
	done := make(chan struct{})
	q.run(func() { <-release; record(1)() })
	// A non-blocking job arriving while a queued one runs must wait for it.
	if q.enterInline() {
		t.Fatal("enterInline claimed the executor ahead of queued work")
	}
	q.run(record(2))
	q.run(func() { record(3)(); close(done) })
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("queued jobs did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != 1 || order[1] != 2 || order[2] != 3 {
		t.Errorf("order = %v, want [1 2 3]", order)
	}
}

func TestSerialDrainsWorkQueuedDuringAnInPlaceJob(t *testing.T) {
	var q serial
	done := make(chan struct{})
	if !q.enterInline() {
		t.Fatal("enterInline refused with an empty queue")
	}
	// Work is queued while the in-place job runs.
	q.run(func() { close(done) })
	q.leaveInline()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("work queued during an in-place job never ran")
	}
}
