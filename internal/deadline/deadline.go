package deadline

import (
	"container/heap"
	"sync"
	"time"
)

// Timer is one deadline, embedded in the struct of whatever it belongs to.
// Its zero value is unusable: Init it once with its callback before arming
// it. It is armed on one Scheduler at a time; only that Scheduler's
// methods touch it afterwards.
type Timer struct {
	// when is the deadline on the Scheduler's clock.
	when time.Duration
	// index is the Timer's position in the heap plus one; 0 when it is not
	// armed.
	index int
	f     func(arg any)
	arg   any
}

// Init sets what the Timer calls when it fires: f(arg). f is best a
// function declared at top level and arg the pointer to the owner, so that
// neither allocates.
func (t *Timer) Init(f func(arg any), arg any) {
	t.f, t.arg = f, arg
}

// Scheduler fires Timers at their deadlines with one runtime timer, armed
// for the earliest of them. Its zero value is ready to use.
type Scheduler struct {
	mu    sync.Mutex
	epoch time.Time
	heap  timerHeap
	// rt is the runtime timer, armed for rtWhen while rtArmed; it may be
	// armed earlier than the earliest deadline (that Timer was re-armed
	// later or cancelled), and then re-arms itself when it fires.
	rt      *time.Timer
	rtWhen  time.Duration
	rtArmed bool
	// firing is set while a goroutine runs the due callbacks; it re-arms
	// the runtime timer when it is done, so that arming meanwhile needs not.
	firing  bool
	stopped bool
	// idle is signalled when firing is cleared, for Stop.
	idle sync.Cond
}

// Now is the Scheduler's clock: monotonic time since the Scheduler was
// first used. Deadlines given to At are on this clock.
func (s *Scheduler) Now() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Scheduler) nowLocked() time.Duration {
	if s.epoch.IsZero() {
		s.epoch = time.Now()
		s.idle.L = &s.mu
	}
	return time.Since(s.epoch)
}

// After arms t to fire d from now, replacing its deadline if it was armed.
func (s *Scheduler) After(t *Timer, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armLocked(t, s.nowLocked()+d)
}

// At arms t to fire at when, on the clock of Now, replacing its deadline
// if it was armed. A deadline already passed fires at once.
func (s *Scheduler) At(t *Timer, when time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nowLocked()
	s.armLocked(t, when)
}

// Cancel disarms t and reports whether it was armed: false when it had
// fired already (its callback may be running or about to run) or was never
// armed, as time.Timer's Stop reports.
func (s *Scheduler) Cancel(t *Timer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.index == 0 {
		return false
	}
	s.removeLocked(t.index - 1)
	if len(s.heap) == 0 && s.rtArmed && !s.firing {
		// Nothing left: the runtime timer holds nothing either.
		s.rt.Stop()
		s.rtArmed = false
	}
	return true
}

// Stop disarms every Timer and ignores arming from now on, then waits for
// callbacks running at the time to return. It must not be called from a
// callback.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nowLocked()
	s.stopped = true
	for _, t := range s.heap {
		t.index = 0
	}
	clear(s.heap)
	s.heap = nil
	if s.rtArmed {
		s.rt.Stop()
		s.rtArmed = false
	}
	for s.firing {
		s.idle.Wait()
	}
}

// Len reports how many Timers are armed.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heap)
}

func (s *Scheduler) armLocked(t *Timer, when time.Duration) {
	if s.stopped {
		return
	}
	t.when = when
	if t.index == 0 {
		heap.Push(&s.heap, t)
	} else {
		heap.Fix(&s.heap, t.index-1)
	}
	if s.heap[0] == t && !s.firing && (!s.rtArmed || when < s.rtWhen) {
		s.armRuntimeLocked(when)
	}
}

// armRuntimeLocked arms the runtime timer for when.
func (s *Scheduler) armRuntimeLocked(when time.Duration) {
	d := max(when-s.nowLocked(), 0)
	if s.rt == nil {
		s.rt = time.AfterFunc(d, s.fire)
	} else {
		s.rt.Reset(d)
	}
	s.rtWhen, s.rtArmed = when, true
}

// fire runs on the runtime timer's goroutine: it fires the due Timers one
// at a time, earliest first, each callback off the lock, then re-arms the
// runtime timer for the next deadline. A second firing while one runs
// leaves the work to it.
func (s *Scheduler) fire() {
	s.mu.Lock()
	if s.firing {
		s.mu.Unlock()
		return
	}
	s.firing = true
	s.rtArmed = false
	for {
		if len(s.heap) == 0 || s.heap[0].when > s.nowLocked() {
			break
		}
		t := s.heap[0]
		s.removeLocked(0)
		f, arg := t.f, t.arg
		s.mu.Unlock()
		f(arg)
		s.mu.Lock()
	}
	s.firing = false
	if len(s.heap) > 0 && !s.stopped {
		s.armRuntimeLocked(s.heap[0].when)
	}
	s.idle.Broadcast()
	s.mu.Unlock()
}

// removeLocked takes the Timer at heap position i out of the heap.
func (s *Scheduler) removeLocked(i int) {
	heap.Remove(&s.heap, i)
	if cap(s.heap) > 64 && len(s.heap) < cap(s.heap)/4 {
		// A burst of connections that has gone leaves its room behind
		// otherwise.
		s.heap = append(timerHeap(nil), s.heap...)
	}
}

// timerHeap orders the armed Timers by deadline for container/heap; each
// Timer keeps its place in it (index, one-based: 0 is not armed).
type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i + 1
	h[j].index = j + 1
}

func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	*h = append(*h, t)
	t.index = len(*h)
}

func (h *timerHeap) Pop() any {
	old := *h
	last := len(old) - 1
	t := old[last]
	old[last] = nil
	t.index = 0
	*h = old[:last]
	return t
}
