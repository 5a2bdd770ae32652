package main

import (
	"context"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

func init() {
	handlers.Register("shout", newShout)
}

// shoutOptions are the YAML options of a shout handler:
//
//	handler:
//	  shout: {event: shout, suffix: "!"}
type shoutOptions struct {
	Event  string `yaml:"event"`
	Suffix string `yaml:"suffix"`
}

// shout broadcasts the message in capitals to the whole namespace and acks
// with its length.
type shout struct {
	event  string
	suffix string
}

func newShout(opts config.Options) (handlers.Handler, error) {
	o := shoutOptions{Event: "shout", Suffix: "!"}
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.Event == "" {
		return nil, opts.Errorf("shout: event must not be empty")
	}
	return &shout{event: o.Event, suffix: o.Suffix}, nil
}

// Handle decodes the payload into its own struct; a payload of the wrong
// shape is an invalid_payload error for the client.
func (s *shout) Handle(ctx context.Context, call *handlers.Call) (any, error) {
	var in struct {
		Message string `json:"message"`
	}
	if err := call.Payload.Decode(&in); err != nil {
		return nil, err
	}
	if in.Message == "" {
		return nil, gatehouse.Errorf(gatehouse.CodeInvalidPayload, "message must not be empty")
	}
	text := strings.ToUpper(in.Message) + s.suffix
	err := call.Socket.Broadcast(ctx, gatehouse.Broadcast{
		Event: s.event,
		Args:  []any{map[string]any{"user": call.Socket.Claims().Subject(), "text": text}},
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "length": len(text)}, nil
}
