package engineio

import (
	"net/http"
	"slices"
	"testing"
)

func TestHeaderLooksUpNamesWithoutRegardToCase(t *testing.T) {
	h := HeaderOf(http.Header{
		"X-Trace":       {"t1"},
		"Authorization": {"Bearer abc: def"},
		"Accept":        {"a", "b"},
	})
	cases := []struct {
		name string
		want string
	}{
		{"X-Trace", "t1"},
		{"x-trace", "t1"},
		{"AUTHORIZATION", "Bearer abc: def"},
		{"Accept", "a"},
		{"Missing", ""},
		{"X-Trac", ""},
	}
	for _, tc := range cases {
		if got := h.Get(tc.name); got != tc.want {
			t.Errorf("Get(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := h.Values("accept"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Values(accept) = %q, want [a b]", got)
	}
	if got := Header("").Get("X-Trace"); got != "" {
		t.Errorf("empty header gave %q", got)
	}
}

func TestQueryParsesOnDemand(t *testing.T) {
	q := Query("EIO=4&transport=websocket&token=a%2Bb&t=1&t=2")
	if got := q.Get("token"); got != "a+b" {
		t.Errorf("token = %q, want a+b", got)
	}
	if got := q.Get("t"); got != "1" {
		t.Errorf("t = %q, want the first value 1", got)
	}
	if got := q.Values()["t"]; !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("Values t = %q", got)
	}
	if got := q.Get("absent"); got != "" {
		t.Errorf("absent = %q", got)
	}
}
