package admin

import (
	"cmp"
	"slices"
)

// mergeEvents sums the nodes' event counts and handler histograms and
// estimates each handler's latencies from the summed buckets.
func mergeEvents(nodes []NodeEvents) Events {
	out := Events{Nodes: []string{}, Events: []EventStat{}}
	type key struct{ namespace, event string }
	byEvent := map[key]*EventStat{}
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, n.Node)
		out.Metrics = out.Metrics || n.Metrics
		for _, e := range n.Events {
			k := key{e.Namespace, e.Event}
			sum := byEvent[k]
			if sum == nil {
				sum = &EventStat{Namespace: e.Namespace, Event: e.Event, Codes: map[string]uint64{}}
				byEvent[k] = sum
			}
			addEvent(sum, e)
		}
	}
	for _, e := range byEvent {
		for i := range e.Handlers {
			estimate(&e.Handlers[i])
		}
		out.Events = append(out.Events, *e)
	}
	slices.Sort(out.Nodes)
	slices.SortFunc(out.Events, func(a, b EventStat) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Event, b.Event))
	})
	return out
}

// addEvent adds one node's statistics of an event to sum.
func addEvent(sum *EventStat, e EventStat) {
	sum.Total += e.Total
	for code, n := range e.Codes {
		sum.Codes[code] += n
	}
	for _, h := range e.Handlers {
		i := slices.IndexFunc(sum.Handlers, func(s HandlerLatency) bool { return s.Handler == h.Handler })
		if i < 0 {
			sum.Handlers = append(sum.Handlers, HandlerLatency{Handler: h.Handler})
			i = len(sum.Handlers) - 1
		}
		addLatency(&sum.Handlers[i], h)
	}
}

// addLatency adds a node's histogram to sum. Every node runs the same
// buckets; a bound one node lacks is taken as it is.
func addLatency(sum *HandlerLatency, h HandlerLatency) {
	sum.Count += h.Count
	sum.SumSeconds += h.SumSeconds
	for _, b := range h.Buckets {
		i := slices.IndexFunc(sum.Buckets, func(s Bucket) bool { return s.LE == b.LE })
		if i < 0 {
			sum.Buckets = append(sum.Buckets, Bucket{LE: b.LE})
			i = len(sum.Buckets) - 1
		}
		sum.Buckets[i].Count += b.Count
	}
	slices.SortFunc(sum.Buckets, func(a, b Bucket) int { return cmp.Compare(a.LE, b.LE) })
}

// estimate fills the mean and the quantiles of h from its buckets.
func estimate(h *HandlerLatency) {
	if h.Count == 0 {
		return
	}
	h.MeanMs = h.SumSeconds / float64(h.Count) * 1000
	h.P50Ms = quantile(0.5, h.Buckets, h.Count) * 1000
	h.P95Ms = quantile(0.95, h.Buckets, h.Count) * 1000
	h.P99Ms = quantile(0.99, h.Buckets, h.Count) * 1000
}

// quantile estimates the q-quantile of count observations from cumulative
// buckets sorted by bound, interpolating linearly within the bucket it
// falls in, as Prometheus's histogram_quantile does. The buckets have no
// +Inf bound (JSON has no infinity): past the last bound, that bound is
// the answer.
func quantile(q float64, buckets []Bucket, count uint64) float64 {
	rank := q * float64(count)
	lower, below := 0.0, uint64(0)
	for _, b := range buckets {
		if float64(b.Count) >= rank {
			inBucket := b.Count - below
			if inBucket == 0 {
				return b.LE
			}
			return lower + (b.LE-lower)*(rank-float64(below))/float64(inBucket)
		}
		lower, below = b.LE, b.Count
	}
	return lower
}
