package lifecycle

import "github.com/prometheus/client_golang/prometheus"

var (
	eventsDesc = prometheus.NewDesc("gatehouse_hooks_events_total",
		"Lifecycle hook events by outcome: delivered, overflow (did not fit the buffer), rejected (refused by the backend), abandoned (given up).",
		[]string{"result"}, nil)
	bufferedDesc = prometheus.NewDesc("gatehouse_hooks_buffered_events",
		"Lifecycle hook events waiting to be posted, the batch being posted included.", nil, nil)
	bufferedBytesDesc = prometheus.NewDesc("gatehouse_hooks_buffered_bytes",
		"Bytes of the lifecycle hook events waiting to be posted, as counted against buffer_bytes.", nil, nil)
	failedPostsDesc = prometheus.NewDesc("gatehouse_hooks_post_failures_total",
		"Posts of lifecycle hook batches that failed and were retried.", nil, nil)
)

// collector reads a Sender's Stats at each scrape.
type collector struct{ sender *Sender }

// Collector returns the Prometheus collector of the hooks' counts.
func (h *Hooks) Collector() prometheus.Collector { return collector{h.sender} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- eventsDesc
	ch <- bufferedDesc
	ch <- bufferedBytesDesc
	ch <- failedPostsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.sender.Stats()
	for _, r := range []struct {
		result string
		count  uint64
	}{
		{"delivered", st.Delivered}, {"overflow", st.Overflowed},
		{"rejected", st.Rejected}, {"abandoned", st.Abandoned},
	} {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(r.count), r.result)
	}
	ch <- prometheus.MustNewConstMetric(bufferedDesc, prometheus.GaugeValue, float64(st.Buffered))
	ch <- prometheus.MustNewConstMetric(bufferedBytesDesc, prometheus.GaugeValue, float64(st.BufferedBytes))
	ch <- prometheus.MustNewConstMetric(failedPostsDesc, prometheus.CounterValue, float64(st.FailedPosts))
}
