package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// hookEvent is one lifecycle event the gateway posts (server.hooks); see
// docs/backends.md#lifecycle-hooks.
type hookEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // connect, disconnect, room_occupied, room_vacated
	Node      string    `json:"node"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Socket    string    `json:"socket,omitempty"`
	User      string    `json:"user,omitempty"`
	Room      string    `json:"room,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// maxSeenIDs bounds the ids remembered to drop a retried batch's repeats:
// far more than the gateway's buffer holds.
const maxSeenIDs = 100000

// presence is what the hooks tell: who is online, which rooms have members
// somewhere in the cluster. A real backend would keep this in its database.
type presence struct {
	mu      sync.Mutex
	seen    map[string]struct{}
	order   []string                       // ids in arrival order, to forget the oldest
	online  map[string]map[string]struct{} // user -> socket ids
	rooms   map[string]time.Time           // "namespace room" -> occupied since
	log     []hookEvent                    // the last events, newest last
	applied int64
}

func newPresence() *presence {
	return &presence{
		seen:   map[string]struct{}{},
		online: map[string]map[string]struct{}{},
		rooms:  map[string]time.Time{},
	}
}

// hooks receives a batch: POST /hooks, a JSON array of events. It answers
// 204 once the batch is applied, so the gateway sends the next one; an
// event seen before (a batch retried after a lost answer) is skipped.
func (s *service) hooks(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "unknown caller", http.StatusUnauthorized)
		return
	}
	var batch []hookEvent
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&batch); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	for _, ev := range batch {
		if s.presence.apply(ev) {
			s.log.Info("hook", "type", ev.Type, "namespace", ev.Namespace, "user", ev.User, "room", ev.Room, "reason", ev.Reason, "node", ev.Node)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// apply records ev once, reporting false for a repeat.
func (p *presence) apply(ev hookEvent) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.seen[ev.ID]; dup {
		return false
	}
	p.remember(ev.ID)
	p.applied++
	p.log = append(p.log, ev)
	if len(p.log) > 1000 {
		p.log = slices.Clone(p.log[len(p.log)-1000:])
	}
	room := ev.Namespace + " " + ev.Room
	switch ev.Type {
	case "connect":
		if p.online[ev.User] == nil {
			p.online[ev.User] = map[string]struct{}{}
		}
		p.online[ev.User][ev.Socket] = struct{}{}
	case "disconnect":
		delete(p.online[ev.User], ev.Socket)
		if len(p.online[ev.User]) == 0 {
			delete(p.online, ev.User)
		}
	case "room_occupied":
		p.rooms[room] = ev.Time
	case "room_vacated":
		delete(p.rooms, room)
	}
	return true
}

func (p *presence) remember(id string) {
	p.seen[id] = struct{}{}
	p.order = append(p.order, id)
	if len(p.order) > maxSeenIDs {
		delete(p.seen, p.order[0])
		p.order = p.order[1:]
	}
}

// presenceView answers GET /presence: the users online with their socket
// counts, the occupied rooms, and the last events received.
func (s *service) presenceView(w http.ResponseWriter, _ *http.Request) {
	p := s.presence
	p.mu.Lock()
	online := map[string]int{}
	for user, sockets := range p.online {
		online[user] = len(sockets)
	}
	rooms := make([]string, 0, len(p.rooms))
	for room := range p.rooms {
		rooms = append(rooms, room)
	}
	events := slices.Clone(p.log)
	applied := p.applied
	p.mu.Unlock()
	slices.Sort(rooms)
	writeJSON(w, http.StatusOK, map[string]any{"online": online, "rooms": rooms, "events": events, "applied": applied})
}
