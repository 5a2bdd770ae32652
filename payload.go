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
	// omit is a top-level key left out of the payload (see
	// NewPayloadOmitting), "" for none.
	omit string
}

// NewPayload wraps raw JSON; raw may be nil when the event has no argument.
func NewPayload(raw json.RawMessage) *Payload { return &Payload{raw: raw} }

// NewPayloadOmitting wraps raw JSON without the top-level member key: Raw,
// Data and Decode never show it. The gateway shows the CONNECT auth payload
// this way, without the token it verified, so that no expression can copy
// the secret into an event, an ack or a webhook. The member is removed when
// the payload is first read, so that a payload nothing reads costs no
// decode.
func NewPayloadOmitting(raw json.RawMessage, key string) *Payload {
	return &Payload{raw: raw, omit: key}
}

// Reset makes p wrap raw, as NewPayload does, forgetting any earlier
// decode. It lets a runtime keep the Payload inside a larger per-event
// value, allocated once, instead of allocating one on its own. It must not
// be called while anything may still read p.
func (p *Payload) Reset(raw json.RawMessage) {
	*p = Payload{raw: raw}
}

// Raw returns the JSON as received (without the omitted member, which
// costs a decode and an encode).
func (p *Payload) Raw() json.RawMessage {
	if p == nil {
		return nil
	}
	if p.omit != "" {
		p.once.Do(p.decode)
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
	p.once.Do(p.decode)
	return p.data, p.err
}

func (p *Payload) decode() {
	if len(p.raw) == 0 {
		return
	}
	if err := json.Unmarshal(p.raw, &p.data); err != nil {
		p.err = Errorf(CodeInvalidPayload, "payload is not valid JSON")
		return
	}
	if object, ok := p.data.(map[string]any); ok && p.omit != "" {
		if _, present := object[p.omit]; present {
			delete(object, p.omit)
			// Re-encoding a map that came from JSON cannot fail.
			p.raw, _ = json.Marshal(object)
		}
	}
}

// Decode unmarshals the payload into v. A payload that does not fit v is an
// invalid_payload error.
func (p *Payload) Decode(v any) error {
	raw := p.Raw()
	if len(raw) == 0 {
		return Errorf(CodeInvalidPayload, "payload is missing")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Errorf(CodeInvalidPayload, "payload does not match the expected shape: %v", err)
	}
	return nil
}
