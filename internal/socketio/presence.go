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
	u := n.users[s.subject]
	if u.first != nil && u.first != s {
		if _, ok := members[u.first]; ok {
			return true
		}
	}
	for other := range u.more {
		if other == s {
			continue
		}
		if _, ok := members[other]; ok {
			return true
		}
	}
	return false
}

// PresenceCount is the number of users (token subjects) of the socket's
// namespace in room on this server, for the presence expressions.
func (s *Socket) PresenceCount(room string) int {
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
// in room on this server, for the presence expressions.
func (s *Socket) PresenceHas(room, user string) bool {
	n := s.ns
	n.mu.RLock()
	defer n.mu.RUnlock()
	members := n.rooms[room]
	u := n.users[user]
	if _, ok := members[u.first]; ok && u.first != nil {
		return true
	}
	for other := range u.more {
		if _, ok := members[other]; ok {
			return true
		}
	}
	return false
}
