package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-dev/gatehouse"
)

// Prefix is where Mount serves the API.
const Prefix = "/api/v1"

// DefaultBodyLimit bounds request bodies when Options.BodyLimit is zero.
const DefaultBodyLimit = 1 << 20

// DefaultRequestTimeout bounds the work of one request when
// Options.RequestTimeout is zero; counting a room waits for every node.
const DefaultRequestTimeout = 3 * time.Second

// Stable error codes of API answers, as declared with the others in the
// gatehouse package.
const (
	CodeUnauthorized     = string(gatehouse.CodeUnauthorized)
	CodeInvalidRequest   = string(gatehouse.CodeInvalidRequest)
	CodeUnknownNamespace = string(gatehouse.CodeUnknownNamespace)
	CodeNotFound         = string(gatehouse.CodeNotFound)
	CodePayloadTooLarge  = string(gatehouse.CodePayloadTooLarge)
	CodeUpstreamError    = string(gatehouse.CodeUpstreamError)
	CodeUpstreamTimeout  = string(gatehouse.CodeUpstreamTimeout)
	CodeInternal         = string(gatehouse.CodeInternal)
)

// Emit is a request to send an event. Room and User are exclusive; with
// neither, every socket of the namespace receives it.
type Emit struct {
	Namespace string
	Room      string
	User      string
	Event     string
	// Data is the event's one argument as raw JSON; nil sends none.
	Data json.RawMessage
}

// Disconnect is a request to disconnect every socket of User or the one
// socket with id Socket, in Namespace or, when it is "", in every namespace.
type Disconnect struct {
	Namespace string
	User      string
	Socket    string
}

// Delivery says how far an emit or a disconnect went.
type Delivery struct {
	// LocalOnly is set when the other nodes could not be reached; the
	// request took effect on this node only.
	LocalOnly bool
	// Warning says why, for the answer's "warning" field.
	Warning string
}

// Cluster carries out the API's requests on every node. Namespaces are
// passed with their leading slash ("/chat"). Its methods may return an
// *Error to choose the answer's status and code; other errors are answered
// as 500 internal.
type Cluster interface {
	HasNamespace(name string) bool
	Emit(ctx context.Context, e Emit) (Delivery, error)
	Disconnect(ctx context.Context, d Disconnect) (Delivery, error)
	// RoomSize counts the sockets of room on every node.
	RoomSize(ctx context.Context, namespace, room string) (int, error)
	// History reads a room's history (gatehouse.ErrNoHistory when the
	// namespace keeps none of it).
	History(ctx context.Context, namespace, room string, q gatehouse.HistoryQuery) ([]gatehouse.HistoryEntry, error)
}

// Error is an answer other than success: an HTTP status, a stable code and
// a message for people.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Invalid returns the 400 answer for a field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidRequest,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

// Options configure the API.
type Options struct {
	// Keys are the accepted API keys; at least one.
	Keys []string
	// Cluster carries out the requests; required.
	Cluster Cluster
	// BodyLimit bounds request bodies in bytes (DefaultBodyLimit when 0).
	BodyLimit int
	// RequestTimeout bounds one request (DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
	// Logger receives refused and failed requests (discarded when nil).
	Logger *slog.Logger
}

// server holds the API's handlers.
type server struct {
	keys      [][]byte
	cluster   Cluster
	bodyLimit int
	timeout   time.Duration
	logger    *slog.Logger
}

// Mount serves the API under Prefix on router. It returns an error when no
// key or no Cluster is given, a wiring mistake.
func Mount(router fiber.Router, opts Options) error {
	if len(opts.Keys) == 0 {
		return errors.New("api: no API key")
	}
	if opts.Cluster == nil {
		return errors.New("api: no cluster")
	}
	s := &server{cluster: opts.Cluster, bodyLimit: opts.BodyLimit, timeout: opts.RequestTimeout, logger: opts.Logger}
	for _, k := range opts.Keys {
		if k == "" {
			return errors.New("api: empty API key")
		}
		s.keys = append(s.keys, []byte(k))
	}
	if s.bodyLimit <= 0 {
		s.bodyLimit = DefaultBodyLimit
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	group := router.Group(Prefix, s.authenticate)
	group.Post("/emit", s.emit)
	group.Post("/disconnect", s.disconnect)
	group.Get("/namespaces/:namespace/rooms/:room", s.roomSize)
	group.Get("/namespaces/:namespace/rooms/:room/history", s.history)
	group.Get("/namespaces/:namespace/rooms/:room/presence", s.presence)
	group.All("/*", func(c *fiber.Ctx) error {
		return s.fail(c, &Error{Status: fiber.StatusNotFound, Code: CodeNotFound,
			Message: fmt.Sprintf("no API endpoint %s %s", c.Method(), c.Path())})
	})
	return nil
}

// KeyCheck returns the key check that Mount puts before every endpoint, for
// other endpoints behind the same keys (the operator's view): it answers
// 401 unauthorized unless the request carries one of keys as
// "Authorization: Bearer <key>".
func KeyCheck(keys []string, logger *slog.Logger) (fiber.Handler, error) {
	if len(keys) == 0 {
		return nil, errors.New("api: no API key")
	}
	s := &server{logger: logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	for _, k := range keys {
		if k == "" {
			return nil, errors.New("api: empty API key")
		}
		s.keys = append(s.keys, []byte(k))
	}
	return s.authenticate, nil
}

// authenticate accepts "Authorization: Bearer <key>" with one of the keys.
// Every key is compared in constant time, so that the answer's timing
// tells nothing about how much of a key was right.
func (s *server) authenticate(c *fiber.Ctx) error {
	header := c.Get(fiber.HeaderAuthorization)
	scheme, presented, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || presented == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gatehouse"`)
		return s.fail(c, &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized,
			Message: "send the API key as Authorization: Bearer <key>"})
	}
	match := 0
	for _, key := range s.keys {
		match |= subtle.ConstantTimeCompare([]byte(strings.TrimSpace(presented)), key)
	}
	if match != 1 {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gatehouse", error="invalid_token"`)
		return s.fail(c, &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "the API key is not valid"})
	}
	return c.Next()
}

// emitBody is the JSON of POST /emit.
type emitBody struct {
	Namespace *string         `json:"namespace"`
	Room      *string         `json:"room"`
	User      *string         `json:"user"`
	Event     *string         `json:"event"`
	Data      json.RawMessage `json:"data"`
}

func (s *server) emit(c *fiber.Ctx) error {
	var body emitBody
	if err := s.decode(c, &body); err != nil {
		return s.fail(c, err)
	}
	ns, err := s.namespace("namespace", body.Namespace, true)
	if err != nil {
		return s.fail(c, err)
	}
	e := Emit{Namespace: ns, Data: body.Data}
	switch {
	case body.Event == nil || *body.Event == "":
		return s.fail(c, Invalid("event", "required: the event name to send"))
	case body.Room != nil && body.User != nil:
		return s.fail(c, Invalid("room", "room and user are exclusive: send to a room or to a user, not both"))
	case body.Room != nil && *body.Room == "":
		return s.fail(c, Invalid("room", "must not be empty; leave it out to send to the whole namespace"))
	case body.User != nil && *body.User == "":
		return s.fail(c, Invalid("user", "must not be empty; leave it out to send to the whole namespace"))
	}
	e.Event = *body.Event
	if body.Room != nil {
		e.Room = *body.Room
	}
	if body.User != nil {
		e.User = *body.User
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.timeout)
	defer cancel()
	delivery, err := s.cluster.Emit(ctx, e)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(delivered(delivery))
}

// disconnectBody is the JSON of POST /disconnect.
type disconnectBody struct {
	Namespace *string `json:"namespace"`
	User      *string `json:"user"`
	Socket    *string `json:"socket"`
}

func (s *server) disconnect(c *fiber.Ctx) error {
	var body disconnectBody
	if err := s.decode(c, &body); err != nil {
		return s.fail(c, err)
	}
	ns, err := s.namespace("namespace", body.Namespace, false)
	if err != nil {
		return s.fail(c, err)
	}
	d := Disconnect{Namespace: ns}
	switch {
	case body.User != nil && body.Socket != nil:
		return s.fail(c, Invalid("user", "user and socket are exclusive: disconnect a user's sockets or one socket"))
	case body.User == nil && body.Socket == nil:
		return s.fail(c, Invalid("user", "required: the user (sub claim) or the socket id to disconnect"))
	case body.User != nil && *body.User == "":
		return s.fail(c, Invalid("user", "must not be empty"))
	case body.Socket != nil && *body.Socket == "":
		return s.fail(c, Invalid("socket", "must not be empty"))
	}
	if body.User != nil {
		d.User = *body.User
	}
	if body.Socket != nil {
		d.Socket = *body.Socket
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.timeout)
	defer cancel()
	delivery, err := s.cluster.Disconnect(ctx, d)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(delivered(delivery))
}

// roomParams reads the :namespace and :room of a room's path, URL-decoded,
// and checks that the namespace is served.
func (s *server) roomParams(c *fiber.Ctx) (namespace, room string, err error) {
	rawNamespace, err := url.PathUnescape(c.Params("namespace"))
	if err != nil {
		return "", "", Invalid("namespace", "not a valid URL-encoded name")
	}
	room, err = url.PathUnescape(c.Params("room"))
	if err != nil || room == "" {
		return "", "", Invalid("room", "not a valid URL-encoded name")
	}
	namespace, err = s.namespace("namespace", &rawNamespace, true)
	if err != nil {
		return "", "", err
	}
	return namespace, room, nil
}

func (s *server) roomSize(c *fiber.Ctx) error {
	ns, room, err := s.roomParams(c)
	if err != nil {
		return s.fail(c, err)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.timeout)
	defer cancel()
	n, err := s.cluster.RoomSize(ctx, ns, room)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(fiber.Map{"namespace": ns, "room": room, "sockets": n})
}

// history answers GET .../rooms/:room/history?since=OFFSET&limit=N: the
// room's messages kept, oldest first.
func (s *server) history(c *fiber.Ctx) error {
	ns, room, err := s.roomParams(c)
	if err != nil {
		return s.fail(c, err)
	}
	q := gatehouse.HistoryQuery{Since: c.Query("since")}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return s.fail(c, Invalid("limit", "a number of messages, 0 or more"))
		}
		q.Limit = n
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.timeout)
	defer cancel()
	entries, err := s.cluster.History(ctx, ns, room, q)
	switch {
	case errors.Is(err, gatehouse.ErrNoHistory):
		return s.fail(c, &Error{Status: fiber.StatusNotFound, Code: CodeNotFound,
			Message: fmt.Sprintf("namespace %s keeps no history of room %.64q", ns, room)})
	case err != nil && gatehouse.AsError(err).Code == gatehouse.CodeInvalidPayload:
		return s.fail(c, Invalid("since", "%s", gatehouse.AsError(err).Message))
	case err != nil:
		return s.fail(c, err)
	}
	if entries == nil {
		entries = []gatehouse.HistoryEntry{}
	}
	return c.JSON(fiber.Map{"namespace": ns, "room": room, "messages": entries})
}

func delivered(d Delivery) fiber.Map {
	answer := fiber.Map{"ok": true}
	if d.LocalOnly {
		answer["local_only"] = true
		answer["warning"] = d.Warning
	}
	return answer
}

// namespace normalizes a namespace ("chat" or "/chat") and checks that it
// is served. An absent optional namespace is "".
func (s *server) namespace(field string, value *string, required bool) (string, error) {
	if value == nil || *value == "" {
		if required {
			return "", Invalid(field, "required: a namespace such as \"/chat\"")
		}
		return "", nil
	}
	name := *value
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if !s.cluster.HasNamespace(name) {
		return "", &Error{Status: fiber.StatusNotFound, Code: CodeUnknownNamespace,
			Message: fmt.Sprintf("namespace %q is not served by this gateway", name)}
	}
	return name, nil
}

// decode reads a JSON object into v, strictly: unknown fields, wrong types
// and trailing data are refused with the field they concern.
func (s *server) decode(c *fiber.Ctx, v any) error {
	// The raw body: c.Body() would decode a Content-Encoding without a
	// limit on what the decoded body may grow to.
	body := c.Request().Body()
	if len(body) > s.bodyLimit {
		return &Error{Status: fiber.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
			Message: fmt.Sprintf("the request body is over %d bytes", s.bodyLimit)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Invalid("body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalid("body", "one JSON object is expected, with nothing after it")
	}
	return nil
}

func decodeError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return Invalid("body", "a JSON object is required, not %s", typeErr.Value)
		}
		return Invalid(typeErr.Field, "must be a string, not %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return Invalid("body", "not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(field, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("body", "the JSON ends too early")
	}
	return Invalid("body", "%v", err)
}

// fail answers err as {code, message} with its status.
func (s *server) fail(c *fiber.Ctx, err error) error {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		s.logger.Error("server API request failed", "method", c.Method(), "path", c.Path(), "error", err)
		apiErr = &Error{Status: fiber.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	} else if apiErr.Status >= 500 {
		s.logger.Warn("server API request failed", "method", c.Method(), "path", c.Path(), "code", apiErr.Code, "error", apiErr.Message)
	} else {
		s.logger.Debug("server API request refused", "method", c.Method(), "path", c.Path(), "code", apiErr.Code, "error", apiErr.Message)
	}
	return c.Status(apiErr.Status).JSON(fiber.Map{"code": apiErr.Code, "message": apiErr.Message})
}
