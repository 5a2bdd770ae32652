package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

func reportCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "JSON lines written by the scenarios (-out)")
	out := fs.String("out", "", "Markdown file to write (default: standard output)")
	commands := fs.String("commands", "", "file holding the commands that produced the results, quoted in the report")
	notes := fs.String("notes", "", "Markdown file appended as the closing section")
	pinning := fs.String("pinning", "", "how the server and the load tool were placed on the CPUs, listed under Machine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("report needs -in")
	}
	results, err := readResults(*in)
	if err != nil {
		return err
	}
	var cmds, tail []byte
	if *commands != "" {
		if cmds, err = os.ReadFile(*commands); err != nil {
			return fmt.Errorf("commands: %w", err)
		}
	}
	if *notes != "" {
		if tail, err = os.ReadFile(*notes); err != nil {
			return fmt.Errorf("notes: %w", err)
		}
	}
	var buf bytes.Buffer
	host := machine()
	if *pinning != "" {
		host = append(host, [2]string{"CPU pinning", *pinning})
	}
	writeReport(&buf, results, host, string(cmds), string(tail))
	if *out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	var out []result
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// machine describes where the figures were taken.
func machine() [][2]string {
	rows := [][2]string{{"CPUs (nproc)", fmt.Sprint(runtime.NumCPU())}}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				rows = append(rows, [2]string{"CPU model", strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))})
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				rows = append(rows, [2]string{"memory", strings.TrimSpace(v)})
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		rows = append(rows, [2]string{"kernel", "Linux " + strings.TrimSpace(string(data))})
	}
	rows = append(rows, [2]string{"Go", runtime.Version()})
	if v, err := exec.Command("node", "--version").Output(); err == nil {
		rows = append(rows, [2]string{"Node.js", strings.TrimSpace(string(v))})
	}
	if v := goPeerLibrary("bench/peers/goio/go.mod"); v != "" {
		rows = append(rows, [2]string{"Go peer", v})
	}
	return rows
}

// goPeerLibrary is the socket.io server module and version the Go peer's
// go.mod requires, "" when the file is not there (the report is written
// from the repository's root).
func goPeerLibrary(goMod string) string {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "github.com/zishang520/socket.io/servers/socket/") {
			return f[0] + " " + f[1]
		}
	}
	return ""
}

// find picks one run: scenario, mode and target; for the ack closed loop,
// the one with 1 event in flight per connection (see findWindow).
func find(results []result, scenario, mode, target string) *result {
	if scenario == "ack" && mode == "closed" {
		return findWindow(results, scenario, mode, target, 1)
	}
	return findWindow(results, scenario, mode, target, 0)
}

// findWindow picks one run: scenario, mode, target and, unless window is
// 0, the closed loop's events in flight (see windowOf). The last one wins
// when a scenario ran twice.
func findWindow(results []result, scenario, mode, target string, window int) *result {
	var found *result
	for i := range results {
		r := &results[i]
		if r.Scenario == scenario && r.Mode == mode && r.Target == target && (window == 0 || windowOf(r) == window) && plain(r) {
			found = r
		}
	}
	return found
}

// plain reports whether r is a run of the server as configured for the
// main table: no variant (recovery, Redis) and at most one sender.
func plain(r *result) bool { return r.Variant == "" && r.Senders <= 1 }

// windowOf is a closed-loop run's events in flight, per connection for
// ack; results written before the window was recorded ran the ack closed
// loop with 1. 0 for other runs.
func windowOf(r *result) int {
	switch {
	case r.Mode != "closed":
		return 0
	case r.Window > 0:
		return r.Window
	case r.Scenario == "ack":
		return 1
	}
	return 0
}

// ackWindows lists the windows above 1 of the ack closed-loop runs, in
// increasing order: each gets rows of its own.
func ackWindows(results []result) []int {
	var out []int
	for i := range results {
		if r := &results[i]; r.Scenario == "ack" && r.Mode == "closed" {
			if w := windowOf(r); w > 1 && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	slices.Sort(out)
	return out
}

// metric is one row of the table: a figure read from the runs of one
// scenario.
type metric struct {
	scenario, mode, label string
	value                 func(*result) float64
	format                string
	lowerIsBetter         bool
	// window selects the closed loop's events in flight; 0 takes what
	// find takes.
	window int
	// many selects the fan-out with many senders at C1's limit.
	many bool
}

// find is the run of target this row reads.
func (m metric) find(results []result, target string) *result {
	if m.many {
		return findMany(results, m.mode, target, "")
	}
	if m.window > 0 {
		return findWindow(results, m.scenario, m.mode, target, m.window)
	}
	return find(results, m.scenario, m.mode, target)
}

// windowMetrics are the rows of an ack closed loop with window events in
// flight per connection, placed after the rows of the one with 1.
func windowMetrics(window int) []metric {
	in := fmt.Sprintf("closed loop, %d in flight per connection", window)
	return []metric{
		{"ack", "closed", "acked events/s, " + in, rate, "%.0f", false, window, false},
		{"ack", "closed", "ack latency p50, " + in + " (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, window, false},
		{"ack", "closed", "ack latency p99, " + in + " (ms)", p99, "%.2f", true, window, false},
	}
}

// tableMetrics is the Results table's rows for these runs: the fixed ones,
// with those of every larger ack window after the 1-in-flight ack rows.
func tableMetrics(results []result) []metric {
	var out []metric
	for i, m := range metrics {
		out = append(out, m)
		if m.scenario == "ack" && m.mode == "closed" && (i+1 == len(metrics) || metrics[i+1].mode != "closed") {
			for _, w := range ackWindows(results) {
				out = append(out, windowMetrics(w)...)
			}
		}
	}
	return out
}

var metrics = []metric{
	{"connect", "", "connect rate, HS256 (connections/s)", func(r *result) float64 { return r.Rate }, "%.0f", false, 0, false},
	{"connect", "", "connect latency p50 (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, 0, false},
	{"connect", "", "connect latency p99 (ms)", func(r *result) float64 { return r.P99ms }, "%.2f", true, 0, false},
	{"hold", "", "idle authenticated connections held", func(r *result) float64 { return float64(r.Held) }, "%.0f", false, 0, false},
	{"hold", "", "server RSS per idle connection (KiB)", func(r *result) float64 { return r.RSSConn }, "%.2f", true, 0, false},
	{"hold", "", "RSS of 1,000,000 idle connections, extrapolated from the connections held (GiB)", func(r *result) float64 { return r.RSSConn * 1e6 / (1 << 20) }, "%.1f", true, 0, false},
	{"ack", "closed", "acked events/s, closed loop, 1 in flight per connection", func(r *result) float64 { return r.Rate }, "%.0f", false, 0, false},
	{"ack", "closed", "ack latency p50, closed loop, 1 in flight per connection (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, 0, false},
	{"ack", "closed", "ack latency p99, closed loop, 1 in flight per connection (ms)", func(r *result) float64 { return r.P99ms }, "%.2f", true, 0, false},
	{"ack", "rate", "acked events/s at the offered load", func(r *result) float64 { return r.Rate }, "%.0f", false, 0, false},
	{"ack", "rate", "ack latency p50 at the offered load (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, 0, false},
	{"ack", "rate", "ack latency p99 at the offered load (ms)", func(r *result) float64 { return r.P99ms }, "%.2f", true, 0, false},
	{"ack", "rate", "ack latency p99.9 at the offered load (ms)", func(r *result) float64 { return r.P999ms }, "%.2f", true, 0, false},
	{"fanout", "closed", "fan-out deliveries/s, closed loop", func(r *result) float64 { return r.Rate }, "%.0f", false, 0, false},
	{"fanout", "closed", "delivery latency p50, closed loop (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, 0, false},
	{"fanout", "closed", "delivery latency p99, closed loop (ms)", func(r *result) float64 { return r.P99ms }, "%.2f", true, 0, false},
	{"fanout", "closed", "server CPU per delivery, closed loop (µs)", cpuPerDelivery, "%.2f", true, 0, false},
	{"fanout", "closed", "deliveries per server write call, closed loop", deliveriesPerWrite, "%.2f", false, 0, false},
	{"fanout", "closed", "fan-out deliveries/s, many senders at C1's per-user limit, closed loop", rate, "%.0f", false, 0, true},
	{"fanout", "closed", "delivery latency p50, many senders (ms)", func(r *result) float64 { return r.P50ms }, "%.2f", true, 0, true},
	{"fanout", "closed", "delivery latency p99, many senders (ms)", p99, "%.2f", true, 0, true},
	{"fanout", "closed", "server CPU per delivery, many senders (µs)", cpuPerDelivery, "%.2f", true, 0, true},
	{"fanout", "closed", "deliveries per server write call, many senders", deliveriesPerWrite, "%.2f", false, 0, true},
	{"fanout", "rate", "fan-out deliveries/s at the offered load", func(r *result) float64 { return r.Rate }, "%.0f", false, 0, false},
	{"fanout", "rate", "delivery latency p99 at the offered load (ms)", func(r *result) float64 { return r.P99ms }, "%.2f", true, 0, false},
}

// targets are the servers of the Results table, in its column order:
// Gatehouse, then each peer it is divided by in a ratio column.
var targets = []string{"gatehouse", "node", "go", "bare"}

// peers are the socket.io servers implementing contract C1 that Gatehouse
// is held against: the Node reference and the Go peer.
var peers = []string{"node", "go"}

func cell(r *result, m metric) string {
	if r == nil {
		return "—"
	}
	return fmt.Sprintf(m.format, m.value(r))
}

func ratio(a, b *result, m metric) string {
	if a == nil || b == nil || m.value(b) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", m.value(a)/m.value(b))
}

// goal is one target of the project, checked against the runs: check
// says how it fared and whether it was met (if known); a goal measured
// more than one way (the acks, at each window) has a met of its own.
type goal struct {
	text  string
	check func(results []result) (verdict string, ok bool, known bool)
	met   func(results []result) (verdict, met string)
}

// verdict is the goal's "this run" and "met" cells.
func (g goal) verdict(results []result) (text, met string) {
	if g.met != nil {
		return g.met(results)
	}
	text, ok, known := g.check(results)
	return text, metWord(ok, known)
}

func metWord(ok, known bool) string {
	switch {
	case !known:
		return "not checked"
	case ok:
		return "yes"
	}
	return "no"
}

// ackGoal checks acked events/s ≥ times × Node at every window the ack
// closed loop ran with, 1 in flight first. Met is "yes" or "no" when all
// windows agree, otherwise it names each, so that a miss at 1 in flight is
// never hidden by a larger window.
func ackGoal(results []result, times float64) (string, string) {
	type part struct {
		window    int
		text      string
		ok, known bool
	}
	var parts []part
	for _, w := range append([]int{1}, ackWindows(results)...) {
		p := part{window: w, text: "not measured"}
		g, n := findWindow(results, "ack", "closed", "gatehouse", w), findWindow(results, "ack", "closed", "node", w)
		if g != nil && n != nil && g.Error == "" && n.Error == "" && n.Rate > 0 {
			got := g.Rate / n.Rate
			p.known, p.ok = true, got >= times
			p.text = fmt.Sprintf("%.2f× node", got)
			if !p.ok {
				p.text += fmt.Sprintf(" (short by %.0f%%)", 100*(1-got/times))
			}
		}
		parts = append(parts, p)
	}
	texts := make([]string, len(parts))
	allKnown, allOK, anyOK, anyKnown := true, true, false, false
	for i, p := range parts {
		texts[i] = fmt.Sprintf("%d in flight: %s", p.window, p.text)
		allKnown, anyKnown = allKnown && p.known, anyKnown || p.known
		allOK, anyOK = allOK && p.ok, anyOK || p.ok
	}
	text := strings.Join(texts, "; ")
	switch {
	case !anyKnown:
		return text, "not checked"
	case allKnown && allOK:
		return text, "yes"
	case allKnown && !anyOK:
		return text, "no"
	}
	// Mixed: the largest window first, each named.
	var mets []string
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		word := metWord(p.ok, p.known)
		if len(mets) == 0 {
			mets = append(mets, fmt.Sprintf("%s at %d in flight", word, p.window))
		} else {
			mets = append(mets, fmt.Sprintf("%s at %d", word, p.window))
		}
	}
	return text, strings.Join(mets, ", ")
}

func pick(results []result, scenario, mode, target string, f func(*result) float64) (float64, bool) {
	r := find(results, scenario, mode, target)
	if r == nil || r.Error != "" {
		return 0, false
	}
	return f(r), true
}

func atLeastTimes(results []result, scenario, mode, other string, times float64, f func(*result) float64) (string, bool, bool) {
	g, ok1 := pick(results, scenario, mode, "gatehouse", f)
	o, ok2 := pick(results, scenario, mode, other, f)
	if !ok1 || !ok2 || o == 0 {
		return "not measured", false, false
	}
	got := g / o
	if got >= times {
		return fmt.Sprintf("%.2f× %s", got, other), true, true
	}
	return fmt.Sprintf("%.2f× %s: short by %.0f%%", got, other, 100*(1-got/times)), false, true
}

func rate(r *result) float64  { return r.Rate }
func p50(r *result) float64   { return r.P50ms }
func p99(r *result) float64   { return r.P99ms }
func rssKB(r *result) float64 { return r.RSSConn }

// cpuPerDelivery is the server's CPU time per delivery counted at the
// receivers, in µs; 0 when it was not read.
func cpuPerDelivery(r *result) float64 {
	if r.OK == 0 {
		return 0
	}
	return 1e6 * r.ServerCPU / float64(r.OK)
}

// deliveriesPerWrite is the copies the server sent (to the receivers and
// the senders alike) per write system call; 0 when the writes were not read.
func deliveriesPerWrite(r *result) float64 {
	if r.ServerWrites == 0 {
		return 0
	}
	return float64(r.Sent) * float64(r.Conns+max(r.Senders, 1)) / float64(r.ServerWrites)
}

var goals = []goal{
	{text: "acked events/s ≥ 4× Node", met: func(rs []result) (string, string) {
		return ackGoal(rs, 4)
	}},
	{text: "fan-out deliveries/s ≥ 4× Node", check: func(rs []result) (string, bool, bool) {
		return atLeastTimes(rs, "fanout", "closed", "node", 4, rate)
	}},
	{text: "fan-out deliveries/s, many senders at C1's per-user limit, ≥ 5× Node", check: func(rs []result) (string, bool, bool) {
		g, n := findMany(rs, "closed", "gatehouse", ""), findMany(rs, "closed", "node", "")
		if g == nil || n == nil || g.Error != "" || n.Error != "" || n.Rate == 0 {
			return "not measured", false, false
		}
		got := g.Rate / n.Rate
		text := fmt.Sprintf("%.2f× node (%d senders, %.0f/s each at most)", got, g.Senders, g.SenderRate)
		if got < 5 {
			text += fmt.Sprintf(": short by %.0f%%", 100*(1-got/5))
		}
		return text, got >= 5, true
	}},
	{text: "fan-out deliveries/s ≥ 0.7× bare", check: func(rs []result) (string, bool, bool) {
		return atLeastTimes(rs, "fanout", "closed", "bare", 0.7, rate)
	}},
	{text: "p99 ack latency at the same offered load ≤ ¼ of Node's", check: func(rs []result) (string, bool, bool) {
		g, ok1 := pick(rs, "ack", "rate", "gatehouse", p99)
		n, ok2 := pick(rs, "ack", "rate", "node", p99)
		if !ok1 || !ok2 || n == 0 {
			return "not measured", false, false
		}
		if g <= n/4 {
			return fmt.Sprintf("%.2f ms vs %.2f ms (%.2f×)", g, n, g/n), true, true
		}
		return fmt.Sprintf("%.2f ms vs %.2f ms (%.2f×, ¼ would be %.2f ms)", g, n, g/n, n/4), false, true
	}},
	{text: "ack latency p50 at the offered load ≤ the peers' (Node's and the Go peer's)", check: medianGoal},
	{text: "RSS per idle authenticated connection ≤ 12 KiB and ≤ ¼ of Node's", check: func(rs []result) (string, bool, bool) {
		g, ok1 := pick(rs, "hold", "", "gatehouse", rssKB)
		n, ok2 := pick(rs, "hold", "", "node", rssKB)
		if !ok1 || !ok2 || n == 0 {
			return "not measured", false, false
		}
		text := fmt.Sprintf("%.2f KiB vs Node %.2f KiB (%.2f×)", g, n, g/n)
		ok := g <= 12 && g <= n/4
		if g > 12 {
			text += fmt.Sprintf(": %.2f KiB over 12 KiB", g-12)
		}
		if g > n/4 {
			text += fmt.Sprintf(": over ¼ of Node's (%.2f KiB)", n/4)
		}
		return text, ok, true
	}},
	{text: "RSS per idle authenticated connection ≤ 4 KiB", check: func(rs []result) (string, bool, bool) {
		r := find(rs, "hold", "", "gatehouse")
		if r == nil || r.Error != "" || r.Held == 0 {
			return "not measured", false, false
		}
		return fmt.Sprintf("%.2f KiB at %d connections held; 1,000,000 would take %.1f GiB (extrapolated)",
			r.RSSConn, r.Held, r.RSSConn*1e6/(1<<20)), r.RSSConn <= 4, true
	}},
	{text: "100,000 concurrent authenticated connections held", check: func(rs []result) (string, bool, bool) {
		r := find(rs, "hold", "", "gatehouse")
		if r == nil {
			return "not measured", false, false
		}
		if r.Held >= 100000 {
			return fmt.Sprintf("%d held", r.Held), true, true
		}
		return fmt.Sprintf("%d held in this run (HOLD_N=100000 checks it where the open-files limit allows; here the hard limit is 20,000 per process)", r.Held), false, false
	}},
	{text: "connect rate with HS256 ≥ 3× Node", check: func(rs []result) (string, bool, bool) {
		return atLeastTimes(rs, "connect", "", "node", 3, rate)
	}},
}

// writeResults writes the Results table: a column per target, then
// gatehouse divided by each other target.
func writeResults(w io.Writer, results []result) {
	others := targets[1:]
	head, rule := []string{"figure"}, []string{"---"}
	for _, t := range targets {
		head, rule = append(head, t), append(rule, "---:")
	}
	for _, t := range others {
		head, rule = append(head, targets[0]+"/"+t), append(rule, "---:")
	}
	fmt.Fprintf(w, "| %s |\n| %s |\n", strings.Join(head, " | "), strings.Join(rule, " | "))
	for _, m := range tableMetrics(results) {
		runs := make([]*result, len(targets))
		row, seen := []string{m.label}, false
		for i, t := range targets {
			runs[i] = m.find(results, t)
			row, seen = append(row, cell(runs[i], m)), seen || runs[i] != nil
		}
		if !seen {
			continue
		}
		for i := range others {
			row = append(row, ratio(runs[0], runs[i+1], m))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

// medianGoal checks Gatehouse's ack p50 at the offered load against each
// peer's at the same load: met when it is at most every peer's, checked
// only when every peer was measured.
func medianGoal(rs []result) (string, bool, bool) {
	g, ok := pick(rs, "ack", "rate", "gatehouse", p50)
	if !ok {
		return "not measured", false, false
	}
	texts := []string{fmt.Sprintf("%.2f ms", g)}
	allKnown, allOK := true, true
	for _, peer := range peers {
		v, ok := pick(rs, "ack", "rate", peer, p50)
		switch {
		case !ok:
			allKnown = false
			texts = append(texts, peer+" not measured")
		case g <= v:
			texts = append(texts, fmt.Sprintf("%s %.2f ms (%.2f×)", peer, v, g/v))
		default:
			allOK = false
			texts = append(texts, fmt.Sprintf("%s %.2f ms (%.2f×, over by %.2f ms)", peer, v, g/v, g-v))
		}
	}
	if r := find(rs, "ack", "rate", "gatehouse"); r.Offered > 0 {
		texts[0] += fmt.Sprintf(" at %.0f events/s", r.Offered)
	}
	text := texts[0] + " vs " + strings.Join(texts[1:], ", ")
	// A peer over Gatehouse is a miss whether or not the others ran.
	return text, allOK, allKnown || !allOK
}

func writeReport(w io.Writer, results []result, machine [][2]string, commands, notes string) {
	fmt.Fprintln(w, "# Benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Generated by `make bench` (`bench/run.sh`); do not edit by hand, the next run rewrites it.")
	fmt.Fprintln(w, "Gatehouse runs `bench/gateway-bench.yaml` (contract C1: the default `gateway.yaml` with the per-user rate")
	fmt.Fprintln(w, "limit read from `RATE_LIMIT`/`RATE_BURST`); **node** is the reference `socket.io` 4.8 server implementing the")
	fmt.Fprintln(w, "same contract (`bench/peers/node/server.js`, same JWT check, guards and acks, same rate-limit variables);")
	fmt.Fprintln(w, "**go** is the Go peer (zishang520/socket.io v3, a Go port of the socket.io server) implementing the same")
	fmt.Fprintln(w, "contract the same way (`bench/peers/goio`, a Go module of its own: same JWT check, guards, acks, error codes")
	fmt.Fprintln(w, "and variables), run with the same loads as Node; **bare** is a fasthttp/websocket loop with no gateway logic")
	fmt.Fprintln(w, "(`bench/peers/bare`), the ceiling of this machine. The load tool (`bench/loadgen`) runs on the same machine")
	fmt.Fprintln(w, "(CPU pinning under Machine), over loopback WebSocket, and signs its own HS256 tokens. Bare does no JWT")
	fmt.Fprintln(w, "check, so its connect and hold figures are not comparable and are not run.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Results")
	fmt.Fprintln(w)
	writeResults(w, results)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios are gatehouse divided by the other; for latencies and memory lower is better.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs (sizes, losses and errors):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | target | mode | in flight | conns | offered/s | sent | ok | lost | errors | seconds |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i := range results {
		r := &results[i]
		mode, window := r.Mode, "—"
		if mode == "" {
			mode = "—"
		}
		if v := windowOf(r); v > 0 {
			window = fmt.Sprint(v)
			if r.Scenario == "ack" {
				window += " per conn"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %.0f | %d | %d | %d | %d | %.1f |\n",
			runLabel(r), r.Target, mode, window, r.Conns, r.Offered, r.Sent, r.OK, r.Lost, r.Errors, r.Seconds)
		if r.Error != "" {
			fmt.Fprintf(w, "| | ↳ error: %s | | | | | | | | | |\n", strings.ReplaceAll(r.Error, "|", "/"))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "In flight: the closed loop's events in flight per connection (ack: a connection sends a new event as soon as")
	fmt.Fprintln(w, "one of its own is acked) or messages in flight in all (fanout: the sender waits until all but that many")
	fmt.Fprintln(w, "reached every receiver). Many senders: the senders take turns, each its own user kept to C1's")
	fmt.Fprintln(w, "per-user limit (the load tool paces each one by the same token bucket, so nothing is refused), and the")
	fmt.Fprintln(w, "server runs with that limit; every message also reaches its senders, whose copies are not counted as")
	fmt.Fprintln(w, "deliveries but are in the write calls.")
	fmt.Fprintln(w)
	writeVariants(w, results)
	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | this run | met |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, g := range goals {
		text, met := g.verdict(results)
		fmt.Fprintf(w, "| %s | %s | %s |\n", g.text, text, met)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "| --- | --- |")
	for _, row := range machine {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintln(w)
	if strings.TrimSpace(commands) != "" {
		fmt.Fprintln(w, "## Commands")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```sh")
		fmt.Fprint(w, strings.TrimRight(commands, "\n")+"\n")
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
	if strings.TrimSpace(notes) != "" {
		fmt.Fprint(w, strings.TrimRight(notes, "\n")+"\n")
	}
}
