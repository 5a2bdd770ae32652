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
