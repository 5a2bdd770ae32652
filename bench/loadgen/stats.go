package main

import (
	"fmt"
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

// clockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// cpuSeconds reads the user and system CPU time process pid has used, in
// seconds; 0 and no error for pid 0.
func cpuSeconds(pid int) (float64, error) {
	if pid <= 0 {
		return 0, nil
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields
	// counted from the state onward start after its closing parenthesis.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, fields[11], fields[12])
	}
	return float64(utime+stime) / clockTicks, nil
}

// writeCalls reads how many write system calls process pid has made
// (syscw in /proc/PID/io); 0 and no error for pid 0.
func writeCalls(pid int) (int64, error) {
	if pid <= 0 {
		return 0, nil
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/io: no syscw", pid)
}
