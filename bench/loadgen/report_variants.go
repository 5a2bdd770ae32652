package main

import (
	"fmt"
	"io"
	"strings"
)

// findMany picks the fan-out with many senders of target in mode, on the
// server variant given ("" for the plain configuration); the last one wins.
func findMany(results []result, mode, target, variant string) *result {
	var found *result
	for i := range results {
		r := &results[i]
		if r.Scenario == "fanout" && r.Mode == mode && r.Target == target && r.Senders > 1 && r.Variant == variant {
			found = r
		}
	}
	return found
}

// findVariant picks the single-sender run of scenario, mode and target on
// the server variant given; the last one wins.
func findVariant(results []result, scenario, mode, target, variant string) *result {
	var found *result
	for i := range results {
		r := &results[i]
		if r.Scenario == scenario && r.Mode == mode && r.Target == target && r.Senders <= 1 && r.Variant == variant {
			found = r
		}
	}
	return found
}

// runLabel names a run in the table of runs: its scenario, with the
// senders and the server variant when there are.
func runLabel(r *result) string {
	var extra []string
	if r.Senders > 1 {
		extra = append(extra, fmt.Sprintf("%d senders", r.Senders))
	}
	if r.Variant != "" {
		extra = append(extra, r.Variant)
	}
	if len(extra) == 0 {
		return r.Scenario
	}
	return r.Scenario + " (" + strings.Join(extra, ", ") + ")"
}

// writeVariants writes the sections of the server variants: recovery on
// against off (same run, same load), and the Redis commands per message.
func writeVariants(w io.Writer, results []result) {
	writeRecovery(w, results)
	writeRedis(w, results)
}

func writeRecovery(w io.Writer, results []result) {
	type pair struct {
		label   string
		off, on *result
	}
	pairs := []pair{
		{"1 sender, closed loop", findVariant(results, "fanout", "closed", "gatehouse", ""), findVariant(results, "fanout", "closed", "gatehouse", "recovery")},
		{"many senders at C1's limit, closed loop", findMany(results, "closed", "gatehouse", ""), findMany(results, "closed", "gatehouse", "recovery")},
	}
	var rows []string
	for _, p := range pairs {
		if p.off == nil || p.on == nil || p.off.Sent == 0 || p.on.Sent == 0 {
			continue
		}
		perMsg := func(r *result) float64 { return 1e6 * r.ServerCPU / float64(r.Sent) }
		cost := "—"
		if p.off.ServerCPU > 0 && p.on.ServerCPU > 0 {
			cost = fmt.Sprintf("%.0f → %.0f (%+.0f µs, %.2f×)", perMsg(p.off), perMsg(p.on), perMsg(p.on)-perMsg(p.off), perMsg(p.on)/perMsg(p.off))
		}
		rows = append(rows, fmt.Sprintf("| %s | %.0f | %.0f | %.2f× | %s | %.2f → %.2f ms |",
			p.label, p.off.Rate, p.on.Rate, p.on.Rate/max(p.off.Rate, 1), cost, p.off.P50ms, p.on.P50ms))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "### Recovery on against off")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Gatehouse with `recovery: {max_disconnection: 2m}` on `/chat` (memory adapter), in the same run and under the")
	fmt.Fprintln(w, "same load as the rows above; the server's CPU time per message counts its whole fan-out (encoding, recording,")
	fmt.Fprintln(w, "every copy written).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| fan-out | deliveries/s off | on | on/off | server CPU per message, off → on (µs) | delivery p50 off → on |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- | --- |")
	for _, row := range rows {
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}

func writeRedis(w io.Writer, results []result) {
	var rows []string
	for _, variant := range []string{"redis", "redis+recovery"} {
		r := findVariant(results, "fanout", "rate", "gatehouse", variant)
		if r == nil || r.RedisDetail == "" {
			continue
		}
		recovery := "off"
		if strings.Contains(variant, "recovery") {
			recovery = "on"
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %.2f | %s |", recovery, r.Sent, r.Conns, r.RedisCalls, r.RedisDetail))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "### Redis commands per broadcast")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Gatehouse on the Redis adapter against a redis-server of its own, one node; `INFO commandstats` read before")
	fmt.Fprintln(w, "and after the messages, divided by the messages sent (`sendMessage` to the whole namespace). The counts include")
	fmt.Fprintln(w, "what the node does on its own meanwhile (leases, presence), spread over the messages.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| recovery | messages | receivers | commands per message | by command (per message) |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- |")
	for _, row := range rows {
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}
