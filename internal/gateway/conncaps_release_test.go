package gateway

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A signed-in socket of /lobby counts under two caps, its user's and the
// namespace's; when it leaves, both places come back, and only its own.
func TestASocketUnderTwoCapsGivesBothPlacesBack(t *testing.T) {
	g := startLiveGateway(t, capsConfig, Registries{})
	counts := g.gw.cluster.connCounter().(interface{ Count(string) int })
	const userKey, nsKey = connKeyUserPrefix + "/lobby dave", connKeyNamespacePrefix + "/lobby"
	dave := capsToken(t, jwt.MapClaims{"sub": "dave"})
	first, err := connectAs(t, g, "/lobby", dave)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectAs(t, g, "/lobby", dave); err != nil {
		t.Fatal(err)
	}
	if u, n := counts.Count(userKey), counts.Count(nsKey); u != 2 || n != 2 {
		t.Fatalf("two sockets of dave count %d under his cap and %d under the namespace's, want 2 and 2", u, n)
	}
	_, err = connectAs(t, g, "/lobby", "")
	refusedWith(t, err, "unavailable", "namespace_max_connections")

	_ = first.Close()
	deadline := time.Now().Add(limitsWait)
	for counts.Count(userKey) != 1 || counts.Count(nsKey) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after one of dave's sockets left: %d under his cap and %d under the namespace's, want 1 and 1",
				counts.Count(userKey), counts.Count(nsKey))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := connectAs(t, g, "/lobby", ""); err != nil {
		t.Fatalf("a place given back in /lobby was not taken: %v", err)
	}
}
