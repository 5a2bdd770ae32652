package gatehousetest

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
)

// RedisHost returns the host o describes on a node of a cluster sharing
// the Redis at url (redis://host:port/db), as a gateway with `adapter:
// redis` gives it: SharedStore keeps its state in that Redis, so instances
// built on hosts of the same url share it as nodes do, and Distributed is
// true. The Publisher stays o's (a whole gateway from Start publishes to
// Redis). The connection is closed when the test ends.
func RedisHost(t testing.TB, url string, o gatehouse.HostOptions) gatehouse.Host {
	t.Helper()
	a, err := adapter.NewRedis(adapter.RedisOptions{URL: url, Logger: o.Logger})
	if err != nil {
		t.Fatalf("redis host: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	o.SharedStore = a
	o.Distributed = true
	return gatehouse.NewHost(o)
}
