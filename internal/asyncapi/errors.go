package asyncapi

import (
	"encoding/json"

	"github.com/gatehouse-dev/gatehouse/internal/explain"
)

// codeSchema is the schema of a refusal's code: one of codes, or any
// string when a step may use its own.
func codeSchema(codes []string, anyCodes bool) object {
	if anyCodes || len(codes) == 0 {
		return object{"type": "string", "description": "A code of contract C2, or one a plugin returns."}
	}
	enum := make([]any, len(codes))
	for i, c := range codes {
		enum[i] = c
	}
	return object{"type": "string", "enum": enum}
}

// retryAfter is the hint a rate_limited refusal carries.
func retryAfter() object {
	return object{"type": "integer", "minimum": 0, "description": "With rate_limited: when to try again, in milliseconds."}
}

// errorReplySchema is the ack of a refused event: {error: {code, message}}.
func errorReplySchema(refusals []explain.Refusal) object {
	codes, anyCodes := codesOf(refusals)
	return object{
		"type":     "object",
		"required": []any{"error"},
		"properties": object{"error": object{
			"type":     "object",
			"required": []any{"code", "message"},
			"properties": object{
				"code":           codeSchema(codes, anyCodes),
				"message":        object{"type": "string"},
				"retry_after_ms": retryAfter(),
			},
		}},
	}
}

// exceptionSchema is the exception event: {status, code, message, event}.
func exceptionSchema(codes []string, anyCodes bool) object {
	return object{
		"type":     "object",
		"required": []any{"status", "code", "message", "event"},
		"properties": object{
			"status":         object{"const": "error"},
			"code":           codeSchema(codes, anyCodes),
			"message":        object{"type": "string"},
			"event":          object{"type": "string", "description": "The name of the refused event."},
			"retry_after_ms": retryAfter(),
		},
	}
}

// connectErrorSchema is the CONNECT_ERROR payload: {message, data: {code}}.
func connectErrorSchema(refusals []explain.Refusal) object {
	codes, anyCodes := codesOf(refusals)
	return object{
		"type":     "object",
		"required": []any{"message", "data"},
		"properties": object{
			"message": object{"type": "string"},
			"data": object{
				"type":       "object",
				"required":   []any{"code"},
				"properties": object{"code": codeSchema(codes, anyCodes)},
			},
		},
	}
}

// appendUnique appends s to list unless an equal schema is there.
func appendUnique(list []any, s any) []any {
	raw, _ := json.Marshal(s)
	for _, e := range list {
		if other, _ := json.Marshal(e); string(other) == string(raw) {
			return list
		}
	}
	return append(list, s)
}

// oneOrAnyOf is the one schema of list, or the union of them.
func oneOrAnyOf(list []any) any {
	if len(list) == 1 {
		return list[0]
	}
	return object{"anyOf": list}
}
