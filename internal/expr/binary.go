package expr

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
)

// Binary values reach expressions as CEL bytes: a Socket.IO client sends a
// Buffer as a placeholder ({"_placeholder":true,"num":N}) in the JSON and the
// bytes as attachment N, and an expression must see the bytes, not the
// placeholder, or `data` echoed back would leak the placeholder without its
// attachment.

// resolveBinary returns v with every placeholder replaced by the attachment
// it refers to, as a []byte that shares the attachment's memory. Containers
// are copied only along the paths that hold a placeholder, so the decoded
// payload that guards share is never changed.
func resolveBinary(v any, attachments [][]byte) any {
	resolved, _ := resolvePlaceholders(v, attachments)
	return resolved
}

func resolvePlaceholders(v any, attachments [][]byte) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if b, ok := placeholderBytes(v, attachments); ok {
			return b, true
		}
		var out map[string]any
		for key, elem := range v {
			if resolved, changed := resolvePlaceholders(elem, attachments); changed {
				if out == nil {
					out = make(map[string]any, len(v))
					for k, e := range v {
						out[k] = e
					}
				}
				out[key] = resolved
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		var out []any
		for i, elem := range v {
			if resolved, changed := resolvePlaceholders(elem, attachments); changed {
				if out == nil {
					out = append([]any(nil), v...)
				}
				out[i] = resolved
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}

// placeholderBytes recognises a placeholder as the reference parser does
// (_placeholder true and an integer num) and returns its attachment; one
// that refers to no attachment stays the object it is, as the protocol
// layer has refused such packets already.
func placeholderBytes(m map[string]any, attachments [][]byte) ([]byte, bool) {
	if len(m) != 2 || m["_placeholder"] != true {
		return nil, false
	}
	num, ok := m["num"].(float64)
	if !ok || num != float64(int(num)) || num < 0 || int(num) >= len(attachments) {
		return nil, false
	}
	return attachments[int(num)], true
}

// decodeArgs decodes every argument of an event for the args variable, with
// binary values resolved; first is the first argument, decoded already as
// data.
func decodeArgs(args gatehouse.Args, first any) ([]any, error) {
	out := make([]any, len(args.Raw))
	for i, raw := range args.Raw {
		if i == 0 {
			out[0] = first
			continue
		}
		if len(raw) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "argument %d is not valid JSON", i+1)
		}
		if len(args.Attachments) > 0 {
			v = resolveBinary(v, args.Attachments)
		}
		out[i] = v
	}
	return out, nil
}

// argsError reports an args variable that could not be built.
func argsError(err error) error { return fmt.Errorf("reading args: %w", err) }
