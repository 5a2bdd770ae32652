package gatewayconfig

import (
	"net"
	"strconv"
)

// Cluster is the top-level cluster section: with any_node on, a polling
// request or an upgrade that reaches a gateway which does not hold its
// session is handed to the gateway that does, over an internal listener of
// its own, so that a cluster works behind a load balancer without sticky
// sessions.
type Cluster struct {
	AnyNode bool `yaml:"any_node" doc:"Whether any gateway serves any session, handing a request for another gateway's session to it over the internal listener; needs adapter.kind redis." default:"false"`
	// Listen is never the public listener: forwarded requests are trusted
	// on the cluster secret alone.
	Listen    string `yaml:"listen" doc:"The host:port of the internal listener other gateways forward requests to; keep it off the public network." doctype:"string, host:port" docdefault:"—"`
	Advertise string `yaml:"advertise" doc:"The host:port other gateways dial to reach this one." doctype:"string, host:port" docdefault:"listen, when its host is set"`
	Secret    string `yaml:"secret" doc:"The secret every gateway of the cluster shares, which signs forwarded requests; at least 32 characters, from the environment." docdefault:"—"`
}

// MinClusterSecret is the shortest cluster.secret accepted: the secret
// signs requests that act on any session, so it must not be guessable.
const MinClusterSecret = 32

// applyClusterDefaults fills in cluster.advertise from cluster.listen when
// the listen address names a host.
func (c *Config) applyClusterDefaults() {
	cl := &c.Cluster
	if c.written("cluster.advertise") || cl.Listen == "" {
		return
	}
	if host, _, err := net.SplitHostPort(cl.Listen); err == nil && host != "" && !net.ParseIP(host).IsUnspecified() {
		cl.Advertise = cl.Listen
	}
}

// cluster checks the cluster section: any_node needs the Redis adapter, an
// internal listener other than the public one, an address to advertise and
// a secret long enough.
func (v *validator) cluster(cl *Cluster) {
	if !cl.AnyNode {
		return
	}
	if v.cfg.Adapter.Kind != "redis" {
		v.fail("cluster.any_node", "cluster.any_node needs adapter.kind redis, where the gateways announce their internal addresses; got adapter.kind %q", v.cfg.Adapter.Kind)
	}
	switch {
	case cl.Listen == "":
		v.fail("cluster.any_node", "cluster.listen is required with cluster.any_node: the host:port of the internal listener, such as 10.0.0.11:9090")
	case !validHostPort(cl.Listen):
		v.fail("cluster.listen", "cluster.listen must be host:port, such as 10.0.0.11:9090 or :9090, got %q", cl.Listen)
	case cl.Listen == v.cfg.Server.Listen:
		v.fail("cluster.listen", "cluster.listen %q is server.listen: the internal listener must be one of its own, off the public network", cl.Listen)
	}
	switch {
	case cl.Advertise == "" && cl.Listen != "" && validHostPort(cl.Listen):
		v.fail("cluster.listen", "cluster.advertise is required when cluster.listen %q names no host: the host:port other gateways dial, such as 10.0.0.11:9090", cl.Listen)
	case cl.Advertise != "" && !advertisable(cl.Advertise):
		v.fail("cluster.advertise", "cluster.advertise must be a host:port other gateways can dial, such as 10.0.0.11:9090, got %q", cl.Advertise)
	}
	switch {
	case cl.Secret == "":
		v.fail("cluster.any_node", "cluster.secret is required with cluster.any_node; set it from the environment, as in secret: ${GATEHOUSE_CLUSTER_SECRET}")
	case len(cl.Secret) < MinClusterSecret:
		v.fail("cluster.secret", "cluster.secret must be at least %d characters, got %d", MinClusterSecret, len(cl.Secret))
	}
}

// validHostPort reports whether s is host:port with a port number; the host
// may be empty (every interface).
func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// advertisable reports whether s is a host:port another node can dial: a
// host that is not a wildcard and a port that is not 0.
func advertisable(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n <= 65535
}
