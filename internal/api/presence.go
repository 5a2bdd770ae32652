package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
)

// PresenceCluster is a Cluster that tells who is in a room
// (namespaces[].presence); the presence endpoint answers 404 without it.
type PresenceCluster interface {
	// Presence returns the members of a room on every node
	// (gatehouse.ErrNoPresence when the namespace declares none of it).
	Presence(ctx context.Context, namespace, room string) (gatehouse.Presence, error)
}

// presence answers GET .../rooms/:room/presence: the room's users, with the
// claims the namespace shows, and their count.
func (s *server) presence(c *fiber.Ctx) error {
	ns, room, err := s.roomParams(c)
	if err != nil {
		return s.fail(c, err)
	}
	reader, ok := s.cluster.(PresenceCluster)
	if !ok {
		return s.fail(c, noPresence(ns, room))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.timeout)
	defer cancel()
	p, err := reader.Presence(ctx, ns, room)
	switch {
	case errors.Is(err, gatehouse.ErrNoPresence):
		return s.fail(c, noPresence(ns, room))
	case err != nil:
		return s.fail(c, err)
	}
	return c.JSON(presenceAnswer{Namespace: ns, Presence: p})
}

// presenceAnswer is the endpoint's JSON: the namespace beside the presence.
type presenceAnswer struct {
	Namespace string `json:"namespace"`
	gatehouse.Presence
}

func noPresence(ns, room string) *Error {
	return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound,
		Message: fmt.Sprintf("namespace %s declares no presence of room %.64q", ns, room)}
}
