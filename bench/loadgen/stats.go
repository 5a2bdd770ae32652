package main

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxSamples bounds the latencies kept per run; beyond it samples are
// counted but not kept, so memory stays bounded on long runs.
const maxSamples = 4 << 20

// samples collects latencies from many goroutines.
type samples struct {
	mu      sync.Mutex
	values  []time.Duration
	dropped int64
}

// add merges a batch collected by one goroutine.
func (s *samples) add(batch []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := maxSamples - len(s.values)
	if room < len(batch) {
		s.dropped += int64(len(batch) - max(room, 0))
		batch = batch[:max(room, 0)]
	}
	s.values = append(s.values, batch...)
}

// percentiles returns p50, p99 and p99.9 in milliseconds.
func (s *samples) percentiles() (p50, p99, p999 float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.values) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s.values)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s.values)))) - 1
		i = min(max(i, 0), len(s.values)-1)
		return float64(s.values[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99), at(0.999)
}

// rssKiB reads VmRSS of process pid from /proc, in KiB.
func rssKiB(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, os.ErrNotExist
}
