package socketio

import (
	"slices"
	"sync"
)

// namespaceIndex is the in-process index of one namespace: its sockets, the
// rooms they joined and the users they belong to. One RWMutex per namespace
// keeps broadcasts (readers) from contending with joins in other
// namespaces. The room and subject fields of each Socket are guarded by the
// same lock.
type namespaceIndex struct {
	name string

	mu      sync.RWMutex
	sockets map[string]*Socket
	rooms   map[string]map[*Socket]struct{}
	// users are the first of the sockets of each subject (see
	// indexUserLocked).
	users map[string]*Socket
}

// indexUserLocked lists s among the sockets of its subject: at the head
// of a list linked through the sockets themselves, so that an idle socket
// costs the index one entry per user and nothing per socket. n.mu is held
// and s is not listed yet.
func (n *namespaceIndex) indexUserLocked(s *Socket) {
	head := n.users[s.subject]
	s.prevOfUser, s.nextOfUser = nil, head
	if head != nil {
		head.prevOfUser = s
	}
	n.users[s.subject] = s
}

// unindexUserLocked takes s out of the list of its subject; n.mu is held
// and s is listed.
func (n *namespaceIndex) unindexUserLocked(s *Socket) {
	prev, next := s.prevOfUser, s.nextOfUser
	switch {
	case prev != nil:
		prev.nextOfUser = next
	case next != nil:
		n.users[s.subject] = next
	default:
		delete(n.users, s.subject)
	}
	if next != nil {
		next.prevOfUser = prev
	}
	s.prevOfUser, s.nextOfUser = nil, nil
}

func newNamespaceIndex(name string) *namespaceIndex {
	return &namespaceIndex{
		name:    name,
		sockets: make(map[string]*Socket),
		rooms:   make(map[string]map[*Socket]struct{}),
		users:   make(map[string]*Socket),
	}
}

// add registers an accepted socket. It reports false when the socket was
// closed meanwhile, so a socket whose session ended during its CONNECT is
// never left behind in the index.
func (n *namespaceIndex) add(s *Socket) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.has(flagClosed) {
		return false
	}
	n.sockets[s.id] = s
	s.registered = true
	s.subject = s.Subject()
	if s.subject != "" {
		n.indexUserLocked(s)
	}
	return true
}

// remove drops a socket from the namespace and every room it joined.
func (n *namespaceIndex) remove(s *Socket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !s.registered {
		return
	}
	s.registered = false
	delete(n.sockets, s.id)
	for room := range s.rooms {
		if removeMember(n.rooms, room, s) {
			s.client.server.roomChanged(n.name, room, false)
		}
		n.userLeft(s, room)
	}
	s.rooms = nil
	if s.subject != "" {
		n.unindexUserLocked(s)
		s.subject = ""
	}
}

// join adds s to room; joining a room twice is harmless.
func (n *namespaceIndex) join(s *Socket, room string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.has(flagClosed) || !s.registered {
		return ErrDisconnected
	}
	if _, member := s.rooms[room]; !member {
		if limit := s.client.server.limits.Load().MaxRoomsPerSocket; limit > 0 && len(s.rooms) >= limit {
			return errTooManyRooms(limit)
		}
	}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{})
	}
	_, already := s.rooms[room]
	s.rooms[room] = struct{}{}
	if addMember(n.rooms, room, s) {
		s.client.server.roomChanged(n.name, room, true)
	}
	if !already {
		n.userJoined(s, room)
	}
	return nil
}

func (n *namespaceIndex) leave(s *Socket, room string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := s.rooms[room]; !ok {
		return
	}
	delete(s.rooms, room)
	if removeMember(n.rooms, room, s) {
		s.client.server.roomChanged(n.name, room, false)
	}
	n.userLeft(s, room)
}

// reindexSubject moves s to the user set of its current subject, after its
// claims changed.
func (n *namespaceIndex) reindexSubject(s *Socket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !s.registered {
		return
	}
	subject := s.Subject()
	if subject == s.subject {
		return
	}
	if s.subject != "" {
		n.unindexUserLocked(s)
	}
	s.subject = subject
	if subject != "" {
		n.indexUserLocked(s)
	}
}

func (n *namespaceIndex) roomsOf(s *Socket) []string {
	n.mu.RLock()
	rooms := make([]string, 0, len(s.rooms))
	for room := range s.rooms {
		rooms = append(rooms, room)
	}
	n.mu.RUnlock()
	slices.Sort(rooms)
	return rooms
}

func (n *namespaceIndex) inRoom(s *Socket, room string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	_, ok := s.rooms[room]
	return ok
}

// roomSize counts the members of room; a socket id counts as a room of one,
// as every socket can be addressed by its id.
func (n *namespaceIndex) roomSize(room string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	members := n.rooms[room]
	size := len(members)
	if s, ok := n.sockets[room]; ok {
		if _, member := members[s]; !member {
			size++
		}
	}
	return size
}

func (n *namespaceIndex) all() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

func (n *namespaceIndex) ofUser(subject string, out []*Socket) []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for s := n.users[subject]; s != nil; s = s.nextOfUser {
		out = append(out, s)
	}
	return out
}

func (n *namespaceIndex) socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// recipients appends to out the sockets that a broadcast to rooms (the whole
// namespace when empty) reaches, each once, leaving out the ids in except.
func (n *namespaceIndex) recipients(rooms, except []string, out []*Socket) []*Socket {
	excluded := func(s *Socket) bool { return slices.Contains(except, s.id) }
	if len(except) > 8 {
		set := make(map[string]struct{}, len(except))
		for _, id := range except {
			set[id] = struct{}{}
		}
		excluded = func(s *Socket) bool { _, ok := set[s.id]; return ok }
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if len(rooms) == 0 {
		for _, s := range n.sockets {
			if !excluded(s) {
				out = append(out, s)
			}
		}
		return out
	}
	if len(rooms) == 1 {
		members := n.rooms[rooms[0]]
		for s := range members {
			if !excluded(s) {
				out = append(out, s)
			}
		}
		if s, ok := n.sockets[rooms[0]]; ok && !excluded(s) {
			if _, member := members[s]; !member {
				out = append(out, s)
			}
		}
		return out
	}
	seen := make(map[*Socket]struct{})
	for _, room := range rooms {
		for s := range n.rooms[room] {
			seen[s] = struct{}{}
		}
		if s, ok := n.sockets[room]; ok {
			seen[s] = struct{}{}
		}
	}
	for s := range seen {
		if !excluded(s) {
			out = append(out, s)
		}
	}
	return out
}

// addMember adds s to the members of key, and reports whether it is the
// first.
func addMember(index map[string]map[*Socket]struct{}, key string, s *Socket) bool {
	members := index[key]
	first := members == nil
	if first {
		members = make(map[*Socket]struct{})
		index[key] = members
	}
	members[s] = struct{}{}
	return first
}

// removeMember removes s from the members of key, and reports whether it
// was the last.
func removeMember(index map[string]map[*Socket]struct{}, key string, s *Socket) bool {
	members, ok := index[key]
	if !ok {
		return false
	}
	delete(members, s)
	if len(members) == 0 {
		delete(index, key)
		return true
	}
	return false
}
