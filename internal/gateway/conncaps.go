package gateway

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// Names of the connection caps in logs, in LimitRefusals and in the data
// of their refusals.
const (
	limitConnsPerUser      = "max_connections_per_user"
	limitNamespaceConns    = "namespace_max_connections"
	connKeyUserPrefix      = "user "
	connKeyNamespacePrefix = "namespace "
)

// connCap is one cap a CONNECT is counted against, with its limit's name.
type connCap struct {
	adapter.Cap
	limit string
}

// connCaps lists the caps a socket of ns with claims counts against (see
// capsOf).
func (st *state) connCaps(ns *namespaceRuntime, claims gatehouse.Claims) []connCap {
	return st.capsOf(ns, func(name string) any { return claims[name] })
}

// capsOf lists the caps a socket of ns counts against:
// server.limits.max_connections_per_user for the user that claim
// server.limits.user_claim names (none for a socket without that claim),
// and the namespace's max_connections. claim reads one of the socket's
// claims, such as Socket.Claim, which reads it from the claims' JSON text
// without decoding the others; it is called only with a per-user cap. The
// keys hold no space but the one after the namespace name, which has none,
// so no two caps share a key.
func (st *state) capsOf(ns *namespaceRuntime, claim func(name string) any) []connCap {
	var caps []connCap
	limits := st.cfg.Server.Limits
	if limits.MaxConnectionsPerUser > 0 {
		if user, ok := claimID(claim(limits.UserClaim)); ok {
			caps = append(caps, connCap{
				Cap:   adapter.Cap{Key: connKeyUserPrefix + ns.name + " " + user, Limit: limits.MaxConnectionsPerUser},
				limit: limitConnsPerUser,
			})
		}
	}
	if ns.maxConnections > 0 {
		caps = append(caps, connCap{
			Cap:   adapter.Cap{Key: connKeyNamespacePrefix + ns.name, Limit: ns.maxConnections},
			limit: limitNamespaceConns,
		})
	}
	return caps
}

// claimID is the text of a claim that identifies a user: a non-empty string
// or a number. Other values (absent, objects, lists) identify no one.
func claimID(v any) (string, bool) {
	switch id := v.(type) {
	case string:
		return id, id != ""
	case float64:
		return strconv.FormatFloat(id, 'f', -1, 64), true
	case json.Number:
		return id.String(), true
	case int64:
		return strconv.FormatInt(id, 10), true
	}
	return "", false
}

// takeConnSlots counts the socket against its caps, cluster-wide with the
// Redis adapter, or refuses it when one is full: limit_exceeded for its
// user, unavailable for the namespace. What it counts is given back when
// the socket's context ends, which it does on every way out: the socket
// leaves, its CONNECT is refused after this (a connect guard), or its
// session closes before the CONNECT is answered.
func (gw *Gateway) takeConnSlots(ctx context.Context, st *state, ns *namespaceRuntime, s *socketio.Socket) error {
	caps := st.capsOf(ns, s.Claim)
	if len(caps) == 0 {
		return nil
	}
	plain := make([]adapter.Cap, len(caps))
	for i, c := range caps {
		plain[i] = c.Cap
	}
	if full := gw.cluster.connCounter().Acquire(ctx, plain); full >= 0 {
		c := caps[full]
		gw.refusals.refused(c.limit, "namespace", ns.name, "ip", s.RemoteIP())
		return capRefusal(c, ns.name)
	}
	gw.releaseOnEnd(s, caps)
	return nil
}

// releaseOnEnd gives the places of caps back when the socket ends,
// whichever way. Every idle socket keeps what this holds, so the function
// keeps the keys themselves, one or two (a user's and the namespace's, all
// there are): 32 bytes with one, 48 with two, rather than a slice of
// them besides (80 bytes with two).
func (gw *Gateway) releaseOnEnd(s *socketio.Socket, caps []connCap) {
	switch len(caps) {
	case 1:
		key := caps[0].Key
		s.OnEnd(func() { gw.cluster.connCounter().Release([]string{key}) })
	case 2:
		first, second := caps[0].Key, caps[1].Key
		s.OnEnd(func() { gw.cluster.connCounter().Release([]string{first, second}) })
	default:
		keys := make([]string, len(caps))
		for i, c := range caps {
			keys[i] = c.Key
		}
		s.OnEnd(func() { gw.cluster.connCounter().Release(keys) })
	}
}

// capRefusal is the CONNECT_ERROR of a full cap.
func capRefusal(c connCap, namespace string) error {
	if c.limit == limitConnsPerUser {
		return gatehouse.Errorf(gatehouse.CodeLimitExceeded,
			"this user already holds %d connections to %s, the most allowed; close one first", c.Limit, namespace).
			With("limit", c.limit)
	}
	return gatehouse.Errorf(gatehouse.CodeUnavailable,
		"%s holds %d connections, the most it takes; retry later", namespace, c.Limit).
		With("limit", c.limit)
}

// connCounter is the cluster's connection counter, made on first use so
// that a gateway that is only built (gatehouse validate) starts nothing.
func (c *cluster) connCounter() adapter.ConnCounter {
	c.connsOnce.Do(func() { c.conns = adapter.NewConnCounter(c.adapter, c.logger) })
	return c.conns
}

// closeConns stops the connection counter, if one was made; with Redis
// this node's counts leave the cluster's at once.
func (c *cluster) closeConns() error {
	c.connsOnce.Do(func() {}) // none is made after this
	if c.conns == nil {
		return nil
	}
	return c.conns.Close()
}
