package metrics

import (
	"testing"
	"time"
)

func TestEventCountsAndHistogramsReadWhatWasRecorded(t *testing.T) {
	m := New(Sources{})
	m.Event("/chat", "send", CodeOK)
	m.Event("/chat", "send", CodeOK)
	m.Event("/chat", "send", "invalid_payload")
	m.HandlerObserved("/chat", "send", "broadcast", 2*time.Millisecond)
	counts := map[string]uint64{}
	for _, c := range m.EventCounts() {
		counts[c.Namespace+" "+c.Event+" "+c.Code] = c.Count
	}
	if counts["/chat send ok"] != 2 || counts["/chat send invalid_payload"] != 1 || len(counts) != 2 {
		t.Errorf("counts %v", counts)
	}
	hs := m.HandlerHistograms()
	if len(hs) != 1 || hs[0].Handler != "broadcast" || hs[0].Count != 1 || hs[0].SumSeconds != 0.002 ||
		len(hs[0].Bounds) != len(handlerBuckets) || hs[0].Cumulative[len(hs[0].Cumulative)-1] != 1 {
		t.Errorf("histograms %+v", hs)
	}
	var off *Metrics
	if off.EventCounts() != nil || off.HandlerHistograms() != nil {
		t.Error("a nil *Metrics reads series")
	}
}
