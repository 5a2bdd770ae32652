package guards

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

func init() {
	Define("max_size", Spec{
		Doc:       "Refuses events whose arguments, as received, are larger than a limit (payload_too_large).",
		Shorthand: "limit",
		Refusals: []Refusal{
			{Code: "payload_too_large", When: "the payload is larger than the guard allows"},
		},
	}, newMaxSizeGuard)
}

// maxSizeOptions are the options of a max_size guard; a bare size is short
// for {limit: size}.
type maxSizeOptions struct {
	Limit config.Size `yaml:"limit" doc:"The largest size of an event's arguments, binary attachments included, such as 4KB." docdefault:"**required**"`
}

// maxSizeGuard refuses events whose arguments are larger than a limit,
// measured on the raw JSON as received, so that it costs no decoding.
type maxSizeGuard struct{ limit int64 }

func newMaxSizeGuard(opts config.Options, o maxSizeOptions) (Guard, error) {
	if o.Limit <= 0 {
		return nil, opts.FieldError("limit", "max_size: the limit must be a size above 0, such as 4KB")
	}
	return &maxSizeGuard{limit: int64(o.Limit)}, nil
}

// MayBlock reports that the guard never waits (handlers.Blocking): it only measures.
func (g *maxSizeGuard) MayBlock() bool { return false }

// CheckOnArrival reports that the guard may decide when the event arrives
// (OnArrival): it measures the payload only.
func (g *maxSizeGuard) CheckOnArrival() bool { return true }

// Check measures every argument of the event (binary attachments
// included), or the payload alone when the arguments are not at hand, as
// at CONNECT.
func (g *maxSizeGuard) Check(_ context.Context, in *Input) error {
	var size int64
	for _, arg := range in.Args.Raw {
		size += int64(len(arg))
	}
	for _, att := range in.Args.Attachments {
		size += int64(len(att))
	}
	if size == 0 {
		size = int64(in.Payload.Size())
	}
	if size > g.limit {
		return gatehouse.Errorf(gatehouse.CodePayloadTooLarge, "payload is %d bytes, more than the limit of %d bytes", size, g.limit)
	}
	return nil
}
