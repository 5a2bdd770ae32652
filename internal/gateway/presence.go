package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/adapter"
	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// presence tells who is in a room (namespaces[].presence): this node's
// sockets from its own index and, with the Redis adapter, the other nodes'
// by asking them (adapter.KindPresence). Nothing is stored for it: a node
// that dies stops answering, so its members are gone from the next answer,
// at the latest once the request times out (adapter.redis request timeout,
// 2s by default).
type presence struct{ gw *Gateway }

var _ gatehouse.PresenceReader = presence{}

// nodePresence is one node's part of a room's presence.
type nodePresence struct {
	// Members are the node's first users of the room by user id, at most
	// the max asked for.
	Members []gatehouse.PresenceMember `json:"members"`
	// Users and Sockets count all of the node's users and sockets in the
	// room, those beyond Members included.
	Users   int `json:"users"`
	Sockets int `json:"sockets"`
}

// config is the namespace's presence, nil when it declares none.
func (p presence) config(namespace string) *gatewayconfig.Presence {
	st := p.gw.state()
	if st == nil || st.cfg == nil {
		return nil
	}
	for i := range st.cfg.Namespaces {
		if st.cfg.Namespaces[i].Name == namespace {
			return st.cfg.Namespaces[i].Presence
		}
	}
	return nil
}

// local is this node's part of room's presence: its sockets there grouped
// by user (the token's sub), with the claims c shows, the first max users
// by id. Sockets without a user count in Sockets only.
func (p presence) local(c *gatewayconfig.Presence, namespace, room string, max int) nodePresence {
	sockets := p.gw.sockets.RoomMembers(namespace, room)
	byUser := make(map[string]*gatehouse.PresenceMember)
	for _, s := range sockets {
		user := s.Subject()
		if user == "" {
			continue
		}
		m := byUser[user]
		if m == nil {
			m = &gatehouse.PresenceMember{User: user, Claims: shownClaims(s, c.Claims)}
			byUser[user] = m
		}
		m.Sockets++
	}
	out := nodePresence{Users: len(byUser), Sockets: len(sockets), Members: make([]gatehouse.PresenceMember, 0, min(len(byUser), max))}
	for _, m := range byUser {
		out.Members = append(out.Members, *m)
	}
	sortMembers(out.Members)
	if len(out.Members) > max {
		out.Members = out.Members[:max]
	}
	return out
}

// shownClaims copies the claims of s named in names (never the token
// itself), one by one: a socket whose claims are still JSON text is not
// made to keep them decoded.
func shownClaims(s *socketio.Socket, names []string) map[string]any {
	shown := make(map[string]any, len(names))
	for _, name := range names {
		if v, ok := s.LookupClaim(name); ok {
			shown[name] = v
		}
	}
	return shown
}

func sortMembers(members []gatehouse.PresenceMember) {
	slices.SortFunc(members, func(a, b gatehouse.PresenceMember) int { return cmp.Compare(a.User, b.User) })
}

// Presence implements gatehouse.PresenceReader: this node's members of
// room and, with the Redis adapter, those of every node that answers in
// time. When some do not, the answer holds the others' and says so in
// Partial.
func (p presence) Presence(ctx context.Context, namespace, room string) (gatehouse.Presence, error) {
	c := p.config(namespace)
	if !c.Covers(room) {
		return gatehouse.Presence{}, gatehouse.ErrNoPresence
	}
	parts := []nodePresence{p.local(c, namespace, room, c.MaxMembers)}
	var partial string
	if p.gw.cluster.distributed() {
		answers, err := p.gw.cluster.adapter.Request(ctx, &adapter.Message{
			Kind: adapter.KindPresence, Namespace: namespace, Rooms: []string{room}, Count: c.MaxMembers,
		})
		switch {
		case errors.Is(err, adapter.ErrTimeout):
			partial = "not every gateway answered in time"
		case err != nil:
			return gatehouse.Presence{}, fmt.Errorf("presence of room %.64q: %w", room, err)
		}
		for _, a := range answers {
			var part nodePresence
			if len(a.Args) != 1 || json.Unmarshal(a.Args[0], &part) != nil {
				continue
			}
			parts = append(parts, part)
		}
	}
	out := mergePresence(parts, c.MaxMembers)
	out.Room, out.Partial = room, partial
	return out, nil
}

// mergePresence joins the nodes' parts: a user with sockets on several
// nodes is one member whose Sockets add up. Count is exact unless a node
// listed only part of its users; it then counts those beyond its list as
// users of their own (an upper bound).
func mergePresence(parts []nodePresence, max int) gatehouse.Presence {
	byUser := make(map[string]*gatehouse.PresenceMember)
	var out gatehouse.Presence
	beyond := 0
	for _, part := range parts {
		out.Sockets += part.Sockets
		beyond += max0(part.Users - len(part.Members))
		for _, m := range part.Members {
			if seen := byUser[m.User]; seen != nil {
				seen.Sockets += m.Sockets
				continue
			}
			m := m
			byUser[m.User] = &m
		}
	}
	out.Members = make([]gatehouse.PresenceMember, 0, min(len(byUser), max))
	for _, m := range byUser {
		out.Members = append(out.Members, *m)
	}
	sortMembers(out.Members)
	out.Count = len(out.Members) + beyond
	if len(out.Members) > max {
		out.Members = out.Members[:max]
	}
	return out
}

func max0(n int) int { return max(n, 0) }

// answerPresence answers another node's request for this node's part of a
// room's presence.
func (c *cluster) answerPresence(req *adapter.Message) *adapter.Message {
	p := presence{gw: c.gw}
	conf := p.config(req.Namespace)
	if len(req.Rooms) != 1 || !conf.Covers(req.Rooms[0]) {
		// Answered all the same (this node's config may not be the
		// asker's during a rolling reload), so the asker need not wait.
		return &adapter.Message{Args: []json.RawMessage{json.RawMessage(`{"members":[]}`)}}
	}
	max := req.Count
	if max < 1 || max > conf.MaxMembers {
		max = conf.MaxMembers
	}
	raw, err := json.Marshal(p.local(conf, req.Namespace, req.Rooms[0], max))
	if err != nil {
		return nil
	}
	return &adapter.Message{Args: []json.RawMessage{raw}}
}

// Presence tells who is in a room for the server API: 503 while the other
// gateways cannot be asked.
func (c *cluster) Presence(ctx context.Context, namespace, room string) (gatehouse.Presence, error) {
	p, err := presence{gw: c.gw}.Presence(ctx, namespace, room)
	if errors.Is(err, adapter.ErrUnavailable) {
		return p, &api.Error{Status: fiber.StatusServiceUnavailable, Code: api.CodeUpstreamError,
			Message: "the other gateways cannot be asked: " + err.Error()}
	}
	return p, err
}
