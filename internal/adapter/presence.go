package adapter

// KindPresence asks every other node who of its sockets are in Rooms[0] of
// Namespace, at most Count users of them; each answers with its part,
// encoded, as Args[0].
const KindPresence Kind = "presence"
