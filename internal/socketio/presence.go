package socketio

// RoomMembers lists the local sockets of namespace that joined room (not
// the socket whose id is room: presence is about joined rooms).
func (s *Server) RoomMembers(namespace, room string) []*Socket {
	n := s.namespace(namespace, false)
	if n == nil {
		return nil
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	members := n.rooms[room]
	out := make([]*Socket, 0, len(members))
	for s := range members {
		out = append(out, s)
	}
	return out
}

// userJoined tells UserRoomChanged that s joined room, when no other socket
// of its user is there. n.mu is held.
func (n *namespaceIndex) userJoined(s *Socket, room string) {
	if f := s.client.server.onUserRoom; f != nil && s.subject != "" && !n.userInRoomBesides(s, room) {
		f(n.name, room, s, true)
	}
}

// userLeft tells UserRoomChanged that s left room, when no other socket of
// its user is there. n.mu is held.
func (n *namespaceIndex) userLeft(s *Socket, room string) {
	if f := s.client.server.onUserRoom; f != nil && s.subject != "" && !n.userInRoomBesides(s, room) {
		f(n.name, room, s, false)
	}
}

// userInRoomBesides reports whether a socket of s's user other than s is in
// room. n.mu is held.
func (n *namespaceIndex) userInRoomBesides(s *Socket, room string) bool {
	members := n.rooms[room]
	for other := n.users[s.subject]; other != nil; other = other.nextOfUser {
		if other == s {
			continue
		}
		if _, ok := members[other]; ok {
			return true
		}
	}
	return false
}

// ClusterPresence gives the presence expressions the figures of the whole
// cluster, where it knows them: ok is false when it does not (a room it
// keeps no record of, a record not read yet or too old), and the server's
// own figures answer then. Its methods run on the event's path: they must
// not wait.
type ClusterPresence interface {
	// PresenceCount is the number of users in room of namespace.
	PresenceCount(namespace, room string) (n int, ok bool)
	// PresenceHas reports whether a socket of user is in room.
	PresenceHas(namespace, room, user string) (has, ok bool)
}

// PresenceCount is the number of users (token subjects) of the socket's
// namespace in room, for the presence expressions: the cluster's when
// Options.ClusterPresence knows it, else this server's.
func (s *Socket) PresenceCount(room string) int {
	if cp := s.client.server.presence; cp != nil {
		if n, ok := cp.PresenceCount(s.ns.name, room); ok {
			return n
		}
	}
	n := s.ns
	n.mu.RLock()
	defer n.mu.RUnlock()
	users := make(map[string]struct{})
	for m := range n.rooms[room] {
		if m.subject != "" {
			users[m.subject] = struct{}{}
		}
	}
	return len(users)
}

// PresenceHas reports whether a socket of user in the socket's namespace is
// in room, for the presence expressions: on this server, or in the cluster
// when Options.ClusterPresence knows it.
func (s *Socket) PresenceHas(room, user string) bool {
	if s.presenceHasLocal(room, user) {
		return true
	}
	if cp := s.client.server.presence; cp != nil {
		has, _ := cp.PresenceHas(s.ns.name, room, user)
		return has
	}
	return false
}

// presenceHasLocal is PresenceHas on this server.
func (s *Socket) presenceHasLocal(room, user string) bool {
	n := s.ns
	n.mu.RLock()
	defer n.mu.RUnlock()
	members := n.rooms[room]
	for other := n.users[user]; other != nil; other = other.nextOfUser {
		if _, ok := members[other]; ok {
			return true
		}
	}
	return false
}
