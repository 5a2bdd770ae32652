package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/reserved"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// maxAnnouncements bounds the presence changes waiting to be announced:
// past it, under a flood of joins, the newest are dropped (and counted)
// rather than held.
const maxAnnouncements = 4096

// limitPresenceAnnouncements names the announcements dropped in
// LimitRefusals and the refusal metric.
const limitPresenceAnnouncements = "presence_announcements"

// announcer sends presence:join and presence:leave to a room's sockets
// (namespaces[].presence.announce) when a user's first socket on this node
// joins it or its last leaves. The Socket.IO server tells it of a change
// with the namespace's lock held, so the change is queued, in order, and
// sent by a goroutine that runs while the queue is not empty.
type announcer struct {
	gw *Gateway

	mu       sync.Mutex
	queue    []announcement
	draining bool
	dropped  uint64
}

// announcement is one change to announce.
type announcement struct {
	namespace, room, socket string
	user                    string
	// shown are the claims shown of the user: a map[string]any, or JSON
	// as the cluster's record keeps it.
	shown  any
	joined bool
}

func newAnnouncer(gw *Gateway) *announcer { return &announcer{gw: gw} }

// changed is the Socket.IO server's UserRoomChanged. With the Redis
// adapter the cluster's record decides what to announce (presenceCluster);
// on one node the node's change is the cluster's.
func (a *announcer) changed(namespace, room string, s *socketio.Socket, joined bool) {
	if pc := a.gw.roomPresence; pc != nil {
		pc.changed(namespace, room, s, joined)
		return
	}
	c := presence{gw: a.gw}.config(namespace)
	if c == nil || !c.Announce || !c.Covers(room) {
		return
	}
	shown := shownClaims(s, c.Claims)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) >= maxAnnouncements {
		a.dropped++
		if a.gw.refusals != nil {
			a.gw.refusals.refused(limitPresenceAnnouncements, "namespace", namespace, "room", room)
		}
		return
	}
	a.queue = append(a.queue, announcement{namespace: namespace, room: room, socket: s.ID(),
		user: s.Subject(), shown: shown, joined: joined})
	if !a.draining {
		a.draining = true
		go a.drain()
	}
}

// drain sends the queued announcements in order, and ends once none is
// left.
func (a *announcer) drain() {
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.draining = false
			a.queue = nil
			a.mu.Unlock()
			return
		}
		next := a.queue[0]
		a.queue = a.queue[1:]
		a.mu.Unlock()
		sendAnnouncement(a.gw, next)
	}
}

// sendAnnouncement delivers one announcement to the room's sockets here
// and, with the Redis adapter, on the other nodes; the socket that joined
// is not told of itself.
func sendAnnouncement(gw *Gateway, n announcement) {
	event := reserved.PresenceLeave
	if n.joined {
		event = reserved.PresenceJoin
	}
	payload := map[string]any{"room": n.room, "user": n.user, "claims": n.shown}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var except []string
	if n.socket != "" {
		except = []string{n.socket}
	}
	cl := gw.cluster
	if err := cl.deliverLocal(ctx, n.namespace, []string{n.room}, "", except, event, payload); err != nil {
		cl.logger.Debug("presence not announced", "namespace", n.namespace, "room", n.room, "error", err)
	}
	if !cl.distributed() {
		return
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return
	}
	cl.send(ctx, &adapter.Message{Kind: adapter.KindBroadcast, Namespace: n.namespace, Rooms: []string{n.room},
		Except: except, Event: event, Args: []json.RawMessage{raw}})
}
