package main

import (
	"context"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/handlers"
)

func init() {
	handlers.Define("shout", handlers.Spec{
		Doc: "Broadcasts the payload's message in capitals to the whole namespace and acks {ok: true, length}.",
		Refusals: []handlers.Refusal{
			{Code: "invalid_payload", When: "the payload is not an object with a non-empty message string"},
		},
	}, newShout)
}

// shoutOptions are the YAML options of a shout handler:
//
//	handler:
//	  shout: {event: shout, suffix: "!"}
//
// The default tags say what an absent option means (for the schema and the
// docs); pointers tell an absent option from one written empty, so the
// factory applies them.
type shoutOptions struct {
	Event  *string `yaml:"event" doc:"The event broadcast to the namespace." default:"shout"`
	Suffix *string `yaml:"suffix" doc:"The text appended to the message in capitals." default:"!"`
}

// shout broadcasts the message in capitals to the whole namespace and acks
// with its length.
type shout struct {
	event  string
	suffix string
}

func newShout(opts config.Options, o shoutOptions) (handlers.Handler, error) {
	s := &shout{event: "shout", suffix: "!"}
	if o.Event != nil {
		if *o.Event == "" {
			return nil, opts.FieldError("event", "shout: event must not be empty")
		}
		s.event = *o.Event
	}
	if o.Suffix != nil {
		s.suffix = *o.Suffix
	}
	return s, nil
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
