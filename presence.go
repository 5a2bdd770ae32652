package gatehouse

import (
	"context"
	"errors"
)

// PresenceReader tells who is in a room (namespaces[].presence in
// gateway.yaml): the users whose sockets joined it, with the claims the
// namespace shows. With the Redis adapter the answer is the cluster's, asked
// of every node; its calls then go over the network (see Blocking).
type PresenceReader interface {
	// Presence returns the members of room in namespace, one per user,
	// sorted by user id, at most the namespace's presence.max_members of
	// them (Count is the whole number of users either way). It fails with
	// ErrNoPresence when the namespace declares no presence of that room.
	Presence(ctx context.Context, namespace, room string) (Presence, error)
}

// Presence is who is in one room.
type Presence struct {
	Room string `json:"room"`
	// Members are the room's users, sorted by user id.
	Members []PresenceMember `json:"members"`
	// Count is the number of users in the room, Members included.
	Count int `json:"count"`
	// Sockets is the number of sockets in the room, those without a user
	// included.
	Sockets int `json:"sockets"`
	// Partial says why some nodes did not answer ("" when every node did):
	// their members are missing.
	Partial string `json:"partial,omitempty"`
}

// PresenceMember is one user in a room: its id (the token's sub), the
// claims the namespace shows of it (never the token), and how many of its
// sockets joined the room.
type PresenceMember struct {
	User    string         `json:"user"`
	Claims  map[string]any `json:"claims"`
	Sockets int            `json:"sockets"`
}

// ErrNoPresence is returned for a room whose namespace declares no
// presence matching it.
var ErrNoPresence = errors.New("no presence is kept of this room")
