package adapter

import (
	"context"
	"testing"
	"time"
)

func TestNodeLeasesNameTheirAddressUntilTheyLapseOrAreWithdrawn(t *testing.T) {
	srv := startRedis(t)
	a := newTestRedis(t, srv.url(), &recorder{}, nil)
	b := newTestRedis(t, srv.url(), &recorder{}, nil)
	ctx := context.Background()
	lookup := func(tag string) string {
		t.Helper()
		addr, err := b.LookupNode(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		return addr
	}

	if ok, err := a.AnnounceNode(ctx, "tagAAAAA", "10.0.0.1:9090", 300*time.Millisecond); !ok || err != nil {
		t.Fatalf("announce: %v %v", ok, err)
	}
	if got := lookup("tagAAAAA"); got != "10.0.0.1:9090" {
		t.Fatalf("lookup = %q", got)
	}
	// Another address cannot take a held tag; the holder renews it.
	if ok, err := b.AnnounceNode(ctx, "tagAAAAA", "10.0.0.2:9090", time.Second); ok || err != nil {
		t.Fatalf("announce of a held tag by another address: %v %v, want false", ok, err)
	}
	if ok, _ := a.AnnounceNode(ctx, "tagAAAAA", "10.0.0.1:9090", 300*time.Millisecond); !ok {
		t.Fatal("renewal refused")
	}
	// Without renewal the lease lapses (a node that died).
	eventually(t, 3*time.Second, "the lease to lapse", func() bool { return lookup("tagAAAAA") == "" })

	// Withdrawn by its holder only.
	if ok, _ := a.AnnounceNode(ctx, "tagBBBBB", "10.0.0.1:9090", time.Minute); !ok {
		t.Fatal("announce refused")
	}
	if err := b.WithdrawNode(ctx, "tagBBBBB", "10.0.0.2:9090"); err != nil {
		t.Fatal(err)
	}
	if got := lookup("tagBBBBB"); got != "10.0.0.1:9090" {
		t.Fatalf("after another address withdrew it: %q", got)
	}
	if err := a.WithdrawNode(ctx, "tagBBBBB", "10.0.0.1:9090"); err != nil {
		t.Fatal(err)
	}
	if got := lookup("tagBBBBB"); got != "" {
		t.Fatalf("after its holder withdrew it: %q", got)
	}
}
