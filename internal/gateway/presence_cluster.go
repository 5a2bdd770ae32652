package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
	"github.com/gatehouse-dev/gatehouse/internal/roster"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// presenceCluster keeps, with the Redis adapter, the cluster's record of
// the users of the rooms namespaces[].presence covers: announcements are
// decided and sent by it once for the cluster (a user's first socket
// anywhere joining, its last anywhere leaving, a dead node's users leaving
// within its lease), and the presence expressions read it through a cache.
// It is nil on a single node, where the node's own index is the cluster's.
type presenceCluster struct {
	gw      *Gateway
	tracker *roster.Tracker
	cache   *roster.Cache
}

var _ socketio.ClusterPresence = (*presenceCluster)(nil)

// newPresenceCluster returns the cluster's presence for a distributed
// adapter that records presence, nil otherwise. lease is the node's lease
// on its records (roster.DefaultLease when zero).
func newPresenceCluster(gw *Gateway, adp adapter.Adapter, lease time.Duration, logger *slog.Logger) *presenceCluster {
	record, ok := adp.(adapter.PresenceRecord)
	if !ok || !adp.Distributed() {
		return nil
	}
	p := &presenceCluster{gw: gw}
	p.tracker = roster.NewTracker(roster.Options{
		Record: record,
		Lease:  lease,
		Logger: logger.With("component", "presence"),
	})
	p.cache = roster.NewCache(roster.CacheOptions{
		Read:   record.PresenceRead,
		Logger: logger.With("component", "presence"),
	})
	return p
}

// start begins keeping the node's records, when there is a cluster.
func (p *presenceCluster) start() {
	if p != nil {
		p.tracker.Start()
		p.cache.Start()
	}
}

// close records the last changes (the users of the sockets closed) and
// takes the node out of the cluster's record, announcing who left with it,
// within ctx. It runs before the adapter closes, which carries the
// announcements.
func (p *presenceCluster) close(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.cache.Close()
	if err := p.tracker.Close(ctx); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	return nil
}

// changed is told, under the namespace's lock, that a user's first socket
// on this node joined a room or its last left. Joins are recorded for the
// rooms presence covers; a leave is passed on whatever the config says
// now, so that a room recorded before a reload is left all the same.
func (p *presenceCluster) changed(namespace, room string, s *socketio.Socket, joined bool) {
	user := s.Subject()
	if !joined {
		p.tracker.Left(namespace, room, user)
		return
	}
	c := presence{gw: p.gw}.config(namespace)
	if !c.Covers(room) {
		return
	}
	claims, err := json.Marshal(shownClaims(s, c.Claims))
	if err != nil {
		claims = []byte("{}")
	}
	p.tracker.Joined(namespace, room, user, s.ID(), claims, c.Announce)
}

// clusterPresence is the Socket.IO server's ClusterPresence: nil on a
// single node, so that the expressions read the node's index alone.
func (p *presenceCluster) clusterPresence() socketio.ClusterPresence {
	if p == nil {
		return nil
	}
	return p
}

// PresenceCount implements socketio.ClusterPresence from the cache, for
// the rooms presence covers (the others are not recorded).
func (p *presenceCluster) PresenceCount(namespace, room string) (int, bool) {
	if !(presence{gw: p.gw}).config(namespace).Covers(room) {
		return 0, false
	}
	return p.cache.Count(namespace, room)
}

// PresenceHas implements socketio.ClusterPresence from the cache.
func (p *presenceCluster) PresenceHas(namespace, room, user string) (bool, bool) {
	if user == "" || !(presence{gw: p.gw}).config(namespace).Covers(room) {
		return false, false
	}
	return p.cache.Has(namespace, room, user)
}

// exceptOf is who a broadcast from the cluster leaves out: msg.Except and,
// for a presence announcement, the announced user's own sockets on this
// node, which are not told of their own coming and going (the record
// announces a join a moment after it, when another socket of the user may
// have joined too).
func (c *cluster) exceptOf(msg *adapter.Message) []string {
	if msg.Event != reserved.PresenceJoin && msg.Event != reserved.PresenceLeave || len(msg.Args) != 1 {
		return msg.Except
	}
	var announced struct {
		User string `json:"user"`
	}
	if json.Unmarshal(msg.Args[0], &announced) != nil || announced.User == "" {
		return msg.Except
	}
	own := c.gw.sockets.SocketsOfUser(msg.Namespace, announced.User)
	if len(own) == 0 {
		return msg.Except
	}
	except := make([]string, 0, len(msg.Except)+len(own))
	except = append(except, msg.Except...)
	for _, s := range own {
		except = append(except, s.ID())
	}
	return except
}
