package gatehouse

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason for a refusal (contract C2).
type Code string

// The codes of contract C2. Clients may rely on these strings.
const (
	CodeUnauthorized    Code = "unauthorized"
	CodeTokenExpired    Code = "token_expired"
	CodeForbidden       Code = "forbidden"
	CodeInvalidPayload  Code = "invalid_payload"
	CodeRateLimited     Code = "rate_limited"
	CodePayloadTooLarge Code = "payload_too_large"
	CodeUnknownEvent    Code = "unknown_event"
	CodeUpstreamError   Code = "upstream_error"
	CodeUpstreamTimeout Code = "upstream_timeout"
	CodeInternal        Code = "internal"
)

// Codes of the gateway's own limits, beside those of contract C2. Clients may
// rely on these strings too.
const (
	// CodeUnavailable refuses a connection the gateway cannot take now: it
	// is at a connection limit or shutting down. Another node, or the same
	// one a little later, may accept it.
	CodeUnavailable Code = "unavailable"
	// CodeLimitExceeded refuses what would take a socket past a limit of
	// the config (namespaces per connection, rooms per socket).
	CodeLimitExceeded Code = "limit_exceeded"
)

// Codes that only the server API (contract C4) answers with, beside the
// C2 codes it shares with clients.
const (
	// CodeInvalidRequest refuses an API request whose body or parameters
	// are malformed.
	CodeInvalidRequest Code = "invalid_request"
	// CodeUnknownNamespace refuses an API request naming a namespace the
	// config does not declare.
	CodeUnknownNamespace Code = "unknown_namespace"
	// CodeNotFound answers an API path that does not exist.
	CodeNotFound Code = "not_found"
)

// Error is a refusal with a stable code and a human message. Fields in Data are
// sent to the client beside code and message (for example retry_after_ms).
type Error struct {
	Code    Code
	Message string
	Data    map[string]any
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns "code: message".
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// With returns a copy of e with key=value added to its Data.
func (e *Error) With(key string, value any) *Error {
	cp := *e
	cp.Data = make(map[string]any, len(e.Data)+1)
	for k, v := range e.Data {
		cp.Data[k] = v
	}
	cp.Data[key] = value
	return &cp
}

// Fields returns the error as the JSON object clients receive:
// {"code", "message", ...Data}.
func (e *Error) Fields() map[string]any {
	out := make(map[string]any, len(e.Data)+2)
	for k, v := range e.Data {
		out[k] = v
	}
	out["code"] = string(e.Code)
	out["message"] = e.Message
	return out
}

// AsError returns the *Error inside err, or an internal error whose message
// does not leak err's text to clients.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var coded *Error
	if errors.As(err, &coded) {
		return coded
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}
