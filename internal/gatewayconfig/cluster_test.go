package gatewayconfig

import (
	"strings"
	"testing"
)

const clusterSecret = "0123456789abcdef0123456789abcdef"

// redisAdapter is an adapter section on Redis, lines 1 to 3.
const redisAdapter = "adapter:\n  kind: redis\n  redis: {url: \"redis://localhost:6379/0\"}\n"

func TestClusterIsOffByDefault(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster != (Cluster{}) {
		t.Errorf("cluster = %+v, want the zero value", cfg.Cluster)
	}
}

func TestClusterAdvertiseDefaultsToListenWhenItNamesAHost(t *testing.T) {
	tests := []struct {
		name, cluster, want string
	}{
		{"listen with a host", "  listen: 10.0.0.11:9090\n", "10.0.0.11:9090"},
		{"advertise written", "  listen: \":9090\"\n  advertise: gw-1.internal:9090\n", "gw-1.internal:9090"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := redisAdapter + "cluster:\n  any_node: true\n  secret: ${SECRET}\n" + tc.cluster + strings.TrimPrefix(validNamespaces, "\n")
			cfg, err := Parse("gw.yaml", []byte(yaml), envOf(map[string]string{"SECRET": clusterSecret}))
			if err != nil {
				t.Fatal(err)
			}
			if !cfg.Cluster.AnyNode || cfg.Cluster.Advertise != tc.want || cfg.Cluster.Secret != clusterSecret {
				t.Errorf("cluster = %+v, want advertise %q", cfg.Cluster, tc.want)
			}
		})
	}
}

func TestClusterMistakesAreReportedAtTheirPosition(t *testing.T) {
	secret := "  secret: " + clusterSecret + "\n"
	tests := []struct {
		name     string
		adapter  string
		cluster  string // the lines under "cluster:", indented by two spaces
		want     string
		fragment string
	}{
		{"memory adapter", "", "  any_node: true\n  listen: 10.0.0.1:9090\n" + secret, "gw.yaml:2:13: ", "needs adapter.kind redis"},
		{"no listen", redisAdapter, "  any_node: true\n" + secret, "gw.yaml:5:13: ", "cluster.listen is required"},
		{"listen without a port", redisAdapter, "  any_node: true\n  listen: 10.0.0.1\n" + secret, "gw.yaml:6:11: ", "must be host:port"},
		{"listen is the public listener", redisAdapter, "  any_node: true\n  listen: \":8080\"\n" + secret, "gw.yaml:6:11: ", "is server.listen"},
		{"no host to advertise", redisAdapter, "  any_node: true\n  listen: \":9090\"\n" + secret, "gw.yaml:6:11: ", "cluster.advertise is required"},
		{"wildcard advertised", redisAdapter, "  any_node: true\n  listen: \":9090\"\n  advertise: 0.0.0.0:9090\n" + secret, "gw.yaml:7:14: ", "can dial"},
		{"no secret", redisAdapter, "  any_node: true\n  listen: 10.0.0.1:9090\n", "gw.yaml:5:13: ", "cluster.secret is required"},
		{"short secret", redisAdapter, "  any_node: true\n  listen: 10.0.0.1:9090\n  secret: short\n", "gw.yaml:7:11: ", "at least 32 characters"},
		{"misspelt key", redisAdapter, "  anynode: true\n", "gw.yaml:5:3: ", `did you mean "any_node"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := tc.adapter + "cluster:\n" + tc.cluster + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.fragment) {
				t.Errorf("error = %q, want prefix %q and %q", msg, tc.want, tc.fragment)
			}
		})
	}
}

func TestClusterKeysAreIgnoredWhileAnyNodeIsOff(t *testing.T) {
	yaml := "cluster:\n  listen: \":9090\"\n" + strings.TrimPrefix(validNamespaces, "\n")
	if _, err := Parse("gw.yaml", []byte(yaml), envOf(nil)); err != nil {
		t.Fatalf("error = %v, want none", err)
	}
}
