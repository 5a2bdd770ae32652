package deadline

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// recorder notes the names of the Timers that fired, in order.
type recorder struct {
	mu    sync.Mutex
	fired []string
	// each gets a value per firing; done is closed by the sentinel.
	each chan struct{}
	done chan struct{}
}

// named is one Timer of a test, with the name it records.
type named struct {
	t    Timer
	name string
	rec  *recorder
	// then runs after the name is recorded, on the callback's goroutine.
	then func()
}

func fireNamed(arg any) {
	n := arg.(*named)
	n.rec.mu.Lock()
	n.rec.fired = append(n.rec.fired, n.name)
	n.rec.mu.Unlock()
	n.rec.each <- struct{}{}
	if n.then != nil {
		n.then()
	}
}

func TestSchedulerFiresInDeadlineOrder(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		// steps arm, re-arm and cancel the Timers a, b, c, d by name;
		// once the Timers of want fired, the sentinel "end" is armed
		// after every deadline the steps gave, and the test waits for it:
		// a Timer that should not fire would fire before it.
		steps func(s *Scheduler, tm map[string]*named)
		want  []string
	}{
		{
			name: "armed in any order, fire earliest first",
			steps: func(s *Scheduler, tm map[string]*named) {
				s.After(&tm["c"].t, 30*ms)
				s.After(&tm["a"].t, 10*ms)
				s.After(&tm["d"].t, 40*ms)
				s.After(&tm["b"].t, 20*ms)
			},
			want: []string{"a", "b", "c", "d"},
		},
		{
			name: "re-armed earlier, fires earlier",
			steps: func(s *Scheduler, tm map[string]*named) {
				s.After(&tm["a"].t, 10*ms)
				s.After(&tm["b"].t, 20*ms)
				s.After(&tm["c"].t, 40*ms)
				s.After(&tm["c"].t, 5*ms)
			},
			want: []string{"c", "a", "b"},
		},
		{
			name: "re-armed later, fires later and once",
			steps: func(s *Scheduler, tm map[string]*named) {
				s.After(&tm["a"].t, 5*ms)
				s.After(&tm["b"].t, 20*ms)
				s.After(&tm["a"].t, 40*ms)
			},
			want: []string{"b", "a"},
		},
		{
			name: "cancelled, never fires",
			steps: func(s *Scheduler, tm map[string]*named) {
				s.After(&tm["a"].t, 10*ms)
				s.After(&tm["b"].t, 20*ms)
				s.After(&tm["c"].t, 30*ms)
				if !s.Cancel(&tm["a"].t) || !s.Cancel(&tm["c"].t) {
					panic("Cancel of an armed Timer reported false")
				}
				if s.Cancel(&tm["c"].t) || s.Cancel(&tm["d"].t) {
					panic("Cancel of a disarmed Timer reported true")
				}
			},
			want: []string{"b"},
		},
		{
			name: "cancelled by a callback before its turn, never fires",
			steps: func(s *Scheduler, tm map[string]*named) {
				tm["a"].then = func() { s.Cancel(&tm["b"].t) }
				s.After(&tm["a"].t, 10*ms)
				s.After(&tm["b"].t, 10*ms+1)
				s.After(&tm["c"].t, 20*ms)
			},
			want: []string{"a", "c"},
		},
		{
			name: "a deadline already passed fires at once",
			steps: func(s *Scheduler, tm map[string]*named) {
				s.After(&tm["a"].t, 10*ms)
				s.At(&tm["b"].t, s.Now()-time.Second)
			},
			want: []string{"b", "a"},
		},
		{
			name: "a callback re-arms its own Timer",
			steps: func(s *Scheduler, tm map[string]*named) {
				left := 3
				tm["a"].then = func() {
					if left--; left > 0 {
						s.After(&tm["a"].t, ms)
					} else {
						s.After(&tm["b"].t, 0)
					}
				}
				s.After(&tm["a"].t, ms)
			},
			want: []string{"a", "a", "a", "b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Scheduler
			defer s.Stop()
			rec := &recorder{each: make(chan struct{}, 16), done: make(chan struct{})}
			tm := map[string]*named{}
			for _, name := range []string{"a", "b", "c", "d", "end"} {
				n := &named{name: name, rec: rec}
				n.t.Init(fireNamed, n)
				tm[name] = n
			}
			tm["end"].then = func() { close(rec.done) }
			// The steps run while a callback holds the scheduler's
			// goroutine, so that nothing fires before they are all done,
			// however long a loaded machine takes over them; what is due
			// by then fires in deadline order once it returns.
			held, release := make(chan struct{}), make(chan struct{})
			var gate Timer
			gate.Init(func(any) {
				close(held)
				<-release
			}, nil)
			s.After(&gate, 0)
			<-held
			base := s.Now()
			tc.steps(&s, tm)
			close(release)
			for range tc.want {
				<-rec.each
			}
			s.At(&tm["end"].t, base+60*time.Millisecond)
			<-rec.done
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if want := append(tc.want, "end"); !slices.Equal(rec.fired, want) {
				t.Fatalf("fired %v, want %v", rec.fired, want)
			}
			if n := s.Len(); n != 0 {
				t.Fatalf("%d Timers still armed", n)
			}
		})
	}
}

func TestSchedulerNeverFiresEarly(t *testing.T) {
	var s Scheduler
	defer s.Stop()
	fired := make(chan time.Time, 1)
	var tm Timer
	tm.Init(func(any) { fired <- time.Now() }, nil)
	start := time.Now()
	s.After(&tm, 20*time.Millisecond)
	if d := (<-fired).Sub(start); d < 20*time.Millisecond {
		t.Fatalf("fired after %v, armed for 20ms", d)
	}
}

func TestSchedulerStopDisarmsAndIgnoresArming(t *testing.T) {
	defer goleak.VerifyNone(t)
	var s Scheduler
	var fired sync.WaitGroup
	var a, b Timer
	a.Init(func(any) { t.Error("a Timer armed before Stop fired") }, nil)
	b.Init(func(any) { t.Error("a Timer armed after Stop fired") }, nil)
	s.After(&a, time.Millisecond)
	s.Stop()
	s.After(&b, 0)
	if n := s.Len(); n != 0 {
		t.Fatalf("%d Timers armed after Stop", n)
	}
	// A Scheduler still in use elsewhere outlives this one's deadlines.
	var other Scheduler
	var c Timer
	fired.Add(1)
	c.Init(func(any) { fired.Done() }, nil)
	other.After(&c, 10*time.Millisecond)
	fired.Wait()
	other.Stop()
}

func TestSchedulerStopWaitsForRunningCallback(t *testing.T) {
	var s Scheduler
	started, release := make(chan struct{}), make(chan struct{})
	returned := false
	var tm Timer
	tm.Init(func(any) {
		close(started)
		<-release
		returned = true
	}, nil)
	s.After(&tm, 0)
	<-started
	go func() { close(release) }()
	s.Stop()
	if !returned {
		t.Fatal("Stop returned while a callback ran")
	}
}

// TestSchedulerHeapStaysOrdered arms, re-arms and cancels many Timers at
// random, far in the future, checking the heap against a plain map.
func TestSchedulerHeapStaysOrdered(t *testing.T) {
	var s Scheduler
	defer s.Stop()
	rng := rand.New(rand.NewPCG(1, 2))
	timers := make([]Timer, 500)
	armed := map[int]time.Duration{}
	for i := range timers {
		timers[i].Init(func(any) { t.Error("a Timer an hour away fired") }, nil)
	}
	for range 20000 {
		i := rng.IntN(len(timers))
		if rng.IntN(3) == 0 {
			_, was := armed[i]
			if got := s.Cancel(&timers[i]); got != was {
				t.Fatalf("Cancel reported %v, armed %v", got, was)
			}
			delete(armed, i)
			continue
		}
		when := time.Hour + time.Duration(rng.IntN(1000))*time.Second
		s.At(&timers[i], when)
		armed[i] = when
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) != len(armed) {
		t.Fatalf("%d in the heap, %d armed", len(s.heap), len(armed))
	}
	for j, tm := range s.heap {
		if tm.index != j+1 {
			t.Fatalf("heap position %d holds index %d", j, tm.index)
		}
		if j > 0 && s.heap[(j-1)/2].when > tm.when {
			t.Fatalf("heap position %d is earlier than its parent", j)
		}
	}
	for i, when := range armed {
		if timers[i].when != when || timers[i].index == 0 {
			t.Fatalf("timer %d: when %v index %d, want %v armed", i, timers[i].when, timers[i].index, when)
		}
	}
}

func BenchmarkSchedulerRearm(b *testing.B) {
	var s Scheduler
	defer s.Stop()
	timers := make([]Timer, 10000)
	for i := range timers {
		timers[i].Init(func(any) {}, nil)
		s.After(&timers[i], time.Hour+time.Duration(i)*time.Millisecond)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.After(&timers[i%len(timers)], time.Hour+time.Duration(i)*time.Microsecond)
		i++
	}
}
