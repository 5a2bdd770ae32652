package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// EventCount is the count of one series of events_total.
type EventCount struct {
	Namespace, Event, Code string
	Count                  uint64
}

// HandlerHistogram is one series of handler_duration_seconds: how many
// calls, their total seconds, and cumulative counts per upper bound (in
// seconds, without the +Inf bound, which is Count).
type HandlerHistogram struct {
	Namespace, Event, Handler string
	Count                     uint64
	SumSeconds                float64
	Bounds                    []float64
	Cumulative                []uint64
}

// EventCounts reads every series of the events counter, for the operator's
// view; nil on a nil *Metrics.
func (m *Metrics) EventCounts() []EventCount {
	if m == nil {
		return nil
	}
	var out []EventCount
	for _, d := range collect(m.events) {
		labels := labelsOf(d)
		out = append(out, EventCount{Namespace: labels["namespace"], Event: labels["event"], Code: labels["code"],
			Count: uint64(d.GetCounter().GetValue())})
	}
	return out
}

// HandlerHistograms reads every series of the handler duration histogram,
// for the operator's view; nil on a nil *Metrics.
func (m *Metrics) HandlerHistograms() []HandlerHistogram {
	if m == nil {
		return nil
	}
	var out []HandlerHistogram
	for _, d := range collect(m.handlerDuration) {
		labels := labelsOf(d)
		h := d.GetHistogram()
		series := HandlerHistogram{Namespace: labels["namespace"], Event: labels["event"], Handler: labels["handler"],
			Count: h.GetSampleCount(), SumSeconds: h.GetSampleSum()}
		for _, b := range h.GetBucket() {
			series.Bounds = append(series.Bounds, b.GetUpperBound())
			series.Cumulative = append(series.Cumulative, b.GetCumulativeCount())
		}
		out = append(out, series)
	}
	return out
}

// collect reads the series of one collector without going through the
// registry, which would gather every metric.
func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var out []*dto.Metric
	for metric := range ch {
		d := &dto.Metric{}
		if metric.Write(d) == nil {
			out = append(out, d)
		}
	}
	return out
}

func labelsOf(d *dto.Metric) map[string]string {
	labels := make(map[string]string, len(d.GetLabel()))
	for _, l := range d.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}
