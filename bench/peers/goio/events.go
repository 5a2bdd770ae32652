package main

import (
	"fmt"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// chat is namespace /chat of contract C1.
type chat struct {
	nsp     socket.Namespace
	limiter *limiter
}

// The replies and broadcasts are structs, so that their keys go out in
// the Node baseline's order (a map's would be sorted) and encode without
// reflection over a map.
type (
	okReply struct {
		OK   bool   `json:"ok"`
		Room string `json:"room,omitempty"`
	}
	chatMessage struct {
		User     any    `json:"user"`
		Username any    `json:"username"`
		Room     string `json:"room,omitempty"`
		Message  string `json:"message"`
	}
	announcement struct {
		Message string `json:"message"`
	}
)

// handler answers one event of a socket whose token carried claims; what
// it returns is the ack's argument.
type handler func(c *chat, s *socket.Socket, user jwt.MapClaims, data any) (any, error)

var events = map[string]handler{
	"sendMessage": (*chat).sendMessage,
	"join":        (*chat).join,
	"leave":       (*chat).leave,
	"sendToRoom":  (*chat).sendToRoom,
	"whoami":      (*chat).whoami,
	"announce":    (*chat).announce,
}

func invalid(format string, args ...any) *codedError {
	return &codedError{"invalid_payload", fmt.Sprintf(format, args...)}
}

// body checks that data is an object with each key a string of 1 to 2000
// characters (200 for room), as C1's schemas say; the first missing key is
// reported before any wrong one, as in the Node baseline.
func body(data any, keys ...string) (map[string]any, error) {
	obj, ok := data.(map[string]any)
	if !ok {
		return nil, invalid("payload must be an object")
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return nil, invalid("missing property %s", k)
		}
	}
	for _, k := range keys {
		limit := 2000
		if k == "room" {
			limit = 200
		}
		v, ok := obj[k].(string)
		if !ok {
			return nil, invalid("%s must be a string", k)
		}
		// Characters are code points, as JavaScript's [...v] counts them.
		if n := utf8.RuneCountInString(v); n < 1 || n > limit {
			return nil, invalid("%s must be 1 to %d characters", k, limit)
		}
	}
	return obj, nil
}

// username is the claim, or "" when the token has none.
func username(user jwt.MapClaims) any {
	if v, ok := user["username"]; ok && v != nil {
		return v
	}
	return ""
}

func sub(user jwt.MapClaims) string {
	s, _ := user["sub"].(string)
	return s
}

func (c *chat) sendMessage(_ *socket.Socket, user jwt.MapClaims, data any) (any, error) {
	if err := c.limiter.allow(sub(user)); err != nil {
		return nil, err
	}
	obj, err := body(data, "message")
	if err != nil {
		return nil, err
	}
	msg := chatMessage{User: user["sub"], Username: username(user), Message: obj["message"].(string)}
	if err := c.nsp.Emit("message", msg); err != nil {
		return nil, fmt.Errorf("broadcast message: %w", err)
	}
	return okReply{OK: true}, nil
}

func (c *chat) join(s *socket.Socket, _ jwt.MapClaims, data any) (any, error) {
	obj, err := body(data, "room")
	if err != nil {
		return nil, err
	}
	room := obj["room"].(string)
	s.Join(socket.Room(room))
	return okReply{OK: true, Room: room}, nil
}

func (c *chat) leave(s *socket.Socket, _ jwt.MapClaims, data any) (any, error) {
	obj, err := body(data, "room")
	if err != nil {
		return nil, err
	}
	room := obj["room"].(string)
	s.Leave(socket.Room(room))
	return okReply{OK: true, Room: room}, nil
}

func (c *chat) sendToRoom(s *socket.Socket, user jwt.MapClaims, data any) (any, error) {
	if err := c.limiter.allow(sub(user)); err != nil {
		return nil, err
	}
	obj, err := body(data, "room", "message")
	if err != nil {
		return nil, err
	}
	room := socket.Room(obj["room"].(string))
	if !s.Rooms().Has(room) {
		return nil, &codedError{"forbidden", "you must join the room before sending to it"}
	}
	msg := chatMessage{User: user["sub"], Username: username(user), Room: string(room), Message: obj["message"].(string)}
	if err := c.nsp.To(room).Emit("message", msg); err != nil {
		return nil, fmt.Errorf("broadcast to room: %w", err)
	}
	return okReply{OK: true}, nil
}

func (c *chat) whoami(_ *socket.Socket, user jwt.MapClaims, _ any) (any, error) {
	return map[string]any(user), nil
}

func (c *chat) announce(_ *socket.Socket, user jwt.MapClaims, data any) (any, error) {
	if user["role"] != "admin" {
		return nil, &codedError{"forbidden", "admin only"}
	}
	obj, err := body(data, "message")
	if err != nil {
		return nil, err
	}
	if err := c.nsp.Emit("announcement", announcement{Message: obj["message"].(string)}); err != nil {
		return nil, fmt.Errorf("broadcast announcement: %w", err)
	}
	return okReply{OK: true}, nil
}
