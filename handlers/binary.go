package handlers

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
)

// Values computed by expressions may hold binary data as []byte: bytes
// built in CEL, or a client's binary attachment read through data or args.
// Socket.IO sends binary as attachments of a BINARY_EVENT or BINARY_ACK,
// with a placeholder where each value was. The socket's encoder does that
// for an argument that is itself a []byte; for bytes nested in an object or
// a list, or for several arguments at once, the handlers build a
// gatehouse.Args here, which the encoder splices in with its attachments.

// sendable returns v ready to be one argument of an event or ack: v itself
// unless it holds []byte below its top level, else one argument with its
// binary values as attachments.
func sendable(v any) (any, error) {
	if _, isBytes := v.([]byte); isBytes || !holdsBytes(v) {
		return v, nil
	}
	return binaryArgs([]any{v})
}

// holdsBytes reports whether a value made of JSON values holds a []byte.
func holdsBytes(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case map[string]any:
		for _, elem := range v {
			if holdsBytes(elem) {
				return true
			}
		}
	case []any:
		for _, elem := range v {
			if holdsBytes(elem) {
				return true
			}
		}
	}
	return false
}

// binaryArgs encodes values as the arguments of one packet, each []byte in
// them an attachment.
func binaryArgs(values []any) (gatehouse.Args, error) {
	enc := attachmentEncoder{}
	args := gatehouse.Args{Raw: make([]json.RawMessage, len(values))}
	for i, v := range values {
		raw, err := json.Marshal(enc.placeholders(v))
		if err != nil {
			return gatehouse.Args{}, fmt.Errorf("encoding argument %d: %w", i+1, err)
		}
		args.Raw[i] = raw
	}
	args.Attachments = enc.attachments
	return args, nil
}

// attachmentEncoder collects the attachments of one packet. A byte slice met
// twice (the same memory, as when a client's placeholders all name one
// attachment and an expression echoes them) is attached once and referred
// to by every placeholder, so that a packet never carries more binary than
// the values it was computed from hold.
type attachmentEncoder struct {
	attachments [][]byte
	seen        map[attachmentKey]int
}

type attachmentKey struct {
	first *byte
	size  int
}

// placeholders returns a copy of v with each []byte replaced by its
// placeholder.
func (e *attachmentEncoder) placeholders(v any) any {
	switch v := v.(type) {
	case []byte:
		return map[string]any{"_placeholder": true, "num": e.attach(v)}
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, elem := range v {
			out[key] = e.placeholders(elem)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, elem := range v {
			out[i] = e.placeholders(elem)
		}
		return out
	}
	return v
}

// attach returns the number of b's attachment, adding it when new.
func (e *attachmentEncoder) attach(b []byte) int {
	if len(b) == 0 {
		e.attachments = append(e.attachments, b)
		return len(e.attachments) - 1
	}
	key := attachmentKey{first: &b[0], size: len(b)}
	if num, ok := e.seen[key]; ok {
		return num
	}
	if e.seen == nil {
		e.seen = make(map[attachmentKey]int)
	}
	e.seen[key] = len(e.attachments)
	e.attachments = append(e.attachments, b)
	return e.seen[key]
}
