package gatehouse

import (
	"encoding/json"
	"sync"
)

// Payload is the first argument of an event (or the CONNECT auth payload) as
// raw JSON, decoded on demand and at most once. The runtime hands the same
// Payload to every guard and handler of one event, so that several readers
// pay for one decode, and events that nothing reads are never decoded.
type Payload struct {
	raw  json.RawMessage
	once sync.Once
	data any
	err  error
}

// NewPayload wraps raw JSON; raw may be nil when the event has no argument.
func NewPayload(raw json.RawMessage) *Payload { return &Payload{raw: raw} }

// Reset makes p wrap raw, as NewPayload does, forgetting any earlier
// decode. It lets a runtime keep the Payload inside a larger per-event
// value, allocated once, instead of allocating one on its own. It must not
// be called while anything may still read p.
func (p *Payload) Reset(raw json.RawMessage) {
	*p = Payload{raw: raw}
}

// Raw returns the JSON as received.
func (p *Payload) Raw() json.RawMessage {
	if p == nil {
		return nil
	}
	return p.raw
}

// Size is the length of the raw JSON in bytes.
func (p *Payload) Size() int { return len(p.Raw()) }

// Data returns the payload decoded as generic JSON (map[string]any, []any,
// string, float64, bool or nil). An absent payload is nil without error.
func (p *Payload) Data() (any, error) {
	if p == nil {
		return nil, nil
	}
	p.once.Do(func() {
		if len(p.raw) == 0 {
			return
		}
		if err := json.Unmarshal(p.raw, &p.data); err != nil {
			p.err = Errorf(CodeInvalidPayload, "payload is not valid JSON")
		}
	})
	return p.data, p.err
}

// Decode unmarshals the payload into v. A payload that does not fit v is an
// invalid_payload error.
func (p *Payload) Decode(v any) error {
	if len(p.Raw()) == 0 {
		return Errorf(CodeInvalidPayload, "payload is missing")
	}
	if err := json.Unmarshal(p.raw, v); err != nil {
		return Errorf(CodeInvalidPayload, "payload does not match the expected shape: %v", err)
	}
	return nil
}
