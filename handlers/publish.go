package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("publish", Spec{
		Doc: "Hands the event to backends through a channel of the cluster adapter, for processing that needs no answer; acks {ok: true}.",
		Refusals: []Refusal{
			{Code: "upstream_error", When: "Redis does not take the message"},
		},
	}, newPublish)
}

// defaultPublishChannel is where backends listen unless the config says
// otherwise.
const defaultPublishChannel = "events"

// publishOptions are the options of the "publish" handler.
type publishOptions struct {
	// Channel is the adapter channel (default "events").
	Channel string `yaml:"channel" doc:"The adapter channel backends listen on." default:"events"`
	// Reply is the ack; absent, {"ok": true}.
	Reply *expr.Expr `yaml:"reply" doc:"A CEL expression giving the ack; absent, {ok: true}." docdefault:"\x60{\"ok\": true}\x60"`
}

// publishHandler hands the event to backends through the cluster adapter
// (a Redis channel with adapter: redis), for fire-and-forget processing
// that needs no answer.
type publishHandler struct {
	channel   string
	reply     *expr.Expr
	publisher gatehouse.Publisher
	// distributed is whether the publisher goes over the network.
	distributed bool
}

func newPublish(opts config.Options, o publishOptions) (Handler, error) {
	if o.Channel == "" {
		o.Channel = defaultPublishChannel
	}
	host := opts.Host()
	return &publishHandler{channel: o.Channel, reply: o.Reply, publisher: host.Publisher(), distributed: host.Distributed()}, nil
}

// MayBlock implements Blocking: publishing to a cluster adapter goes over
// the network; the memory adapter only hands the message on in process.
func (h *publishHandler) MayBlock() bool { return h.distributed }

// Handle publishes {namespace, event, data, claims, socket_id} as JSON, then
// computes the ack.
func (h *publishHandler) Handle(ctx context.Context, call *Call) (any, error) {
	if h.publisher == nil {
		return nil, errors.New("publish: no adapter to publish to")
	}
	message, err := marshalEventMessage(call)
	if err != nil {
		return nil, err
	}
	if err := h.publisher.Publish(ctx, h.channel, message); err != nil {
		// The client learns that the backend path failed, not why (the
		// adapter's error may name hosts); the log gets the whole chain.
		coded := gatehouse.Errorf(gatehouse.CodeUpstreamError, "could not publish the event")
		return nil, fmt.Errorf("%w (publish to channel %q: %w)", coded, h.channel, err)
	}
	if h.reply == nil {
		return okReply(), nil
	}
	ev := evaluatorFor(call)
	return ev.arg(ctx, "reply", h.reply)
}
