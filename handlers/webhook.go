package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/expr"
)

func init() {
	Define("webhook", Spec{
		Doc: "POSTs the event to a backend over HTTP and acks with its answer; upstream_error or upstream_timeout when it fails.",
		Refusals: []Refusal{
			{Code: "upstream_error", When: "the backend cannot be reached or answers an error"},
			{Code: "upstream_timeout", When: "the backend does not answer within the handler's timeout"},
		},
	}, newWebhook)
}

const (
	// defaultWebhookTimeout bounds a call when the config gives no timeout.
	defaultWebhookTimeout = 5 * time.Second
	// maxWebhookAnswer caps the answer read into memory, so that a
	// misbehaving backend cannot make the gateway buffer without limit.
	maxWebhookAnswer = 1 << 20
	// webhookIdleConnsPerHost keeps enough warm connections to one backend
	// for a busy namespace; net/http's default of 2 would make most calls
	// under load open a new connection.
	webhookIdleConnsPerHost = 64
)

// webhookOptions are the options of the "webhook" handler.
type webhookOptions struct {
	// URL is the backend endpoint, absolute http or https.
	URL string `yaml:"url" doc:"The backend endpoint, an absolute http or https URL." doctype:"http(s) URL" docdefault:"**required**"`
	// Timeout bounds the whole call, answer included (default 5s).
	Timeout config.Duration `yaml:"timeout" doc:"Bounds the whole call, answer included." default:"5s"`
	// Headers are added to every request, such as an Authorization header
	// with a ${SECRET} from the environment.
	Headers map[string]string `yaml:"headers" doc:"Headers added to every request, such as an Authorization header with a ${SECRET} from the environment."`
	// Reply, when given, is the ack instead of the backend's answer.
	Reply *expr.Expr `yaml:"reply" doc:"A CEL expression giving the ack instead of the backend's answer."`
}

// webhookHandler hands the event to an HTTP backend and acks with its
// answer. The answer may also ask the gateway to act on the socket (emit,
// broadcast, join, leave), so that a backend in any language can drive the
// realtime side without a client library.
type webhookHandler struct {
	url     string
	timeout time.Duration
	header  http.Header
	reply   *expr.Expr
	client  *http.Client
	health  *webhookHealth
}

func newWebhook(opts config.Options, o webhookOptions) (Handler, error) {
	if o.URL == "" {
		return nil, opts.Errorf("webhook: url is required")
	}
	if err := checkWebhookURL(o.URL); err != nil {
		return nil, config.ErrorList{config.Errorf(optionPos(opts, "url"), "webhook: %v", err)}
	}
	header := http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"User-Agent":   {"gatehouse"},
	}
	for name, value := range o.Headers {
		if !validHeaderName(name) {
			return nil, config.ErrorList{config.Errorf(optionPos(opts, "headers"), "webhook: %q is not a valid header name", name)}
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, config.ErrorList{config.Errorf(optionPos(opts, "headers"), "webhook: header %s has a line break or NUL in its value", name)}
		}
		header.Set(name, value)
	}
	timeout := o.Timeout.D()
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = webhookIdleConnsPerHost
	return &webhookHandler{
		url:     o.URL,
		timeout: timeout,
		header:  header,
		reply:   o.Reply,
		health:  newWebhookHealth(opts.Host().Logger(), o.URL),
		client: &http.Client{
			Transport: transport,
			// A redirect would turn the POST into a GET and lose the
			// event; the backend's URL belongs in the config instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// checkWebhookURL accepts absolute http and https URLs with a host.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q does not parse: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q must be an absolute http or https URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q has no host", raw)
	}
	return nil
}

// MayBlock implements Blocking: a webhook waits for its backend.
func (h *webhookHandler) MayBlock() bool { return true }

// Handle posts the event, performs the actions of the answer, and acks.
func (h *webhookHandler) Handle(ctx context.Context, call *Call) (any, error) {
	request, err := marshalEventMessage(call)
	if err != nil {
		return nil, err
	}
	answer, err := h.post(ctx, request)
	if err != nil {
		return nil, err
	}
	ack, actions, err := parseWebhookAnswer(answer)
	if err != nil {
		return nil, err
	}
	for _, action := range actions {
		if err := action.perform(ctx, call.Socket); err != nil {
			return nil, fmt.Errorf("webhook action %s: %w", action.Type, err)
		}
	}
	if h.reply != nil {
		ev := evaluatorFor(call)
		return ev.arg(ctx, "reply", h.reply)
	}
	return ack, nil
}

// post sends body and returns the answer of a 2xx response. Client-facing
// messages name the status but never the body or URL, which may hold
// internals; the wrapped cause keeps them for the log.
func (h *webhookHandler) post(ctx context.Context, body []byte) (_ []byte, err error) {
	ctx, span := startWebhookSpan(ctx, h.url)
	status := 0
	defer func() { endWebhookSpan(span, status, err) }()
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: build request: %w", err)
	}
	req.Header = h.header.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http ignores a Host entry in Header
	}
	propagateTrace(ctx, req.Header)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, h.unanswered(ctx, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	if resp.StatusCode >= 500 {
		h.health.failure(fmt.Errorf("answered %s", resp.Status))
	} else {
		h.health.answered()
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a bounded amount so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answered %s", resp.Status)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer+1))
	if err != nil {
		return nil, h.unanswered(ctx, err)
	}
	if len(answer) > maxWebhookAnswer {
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answer is larger than %d bytes", maxWebhookAnswer)
	}
	return answer, nil
}

// unanswered classifies a call that got no (whole) answer and counts it
// against the backend's health, unless the caller gave up on it: an
// abandoned event says nothing about the backend.
func (h *webhookHandler) unanswered(ctx context.Context, err error) error {
	if !errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		h.health.failure(err)
	}
	return h.callError(ctx, err)
}

// callError classifies a failed call: running out of time (ours or the
// caller's) is upstream_timeout, anything else upstream_error.
func (h *webhookHandler) callError(ctx context.Context, err error) error {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		coded := gatehouse.Errorf(gatehouse.CodeUpstreamTimeout, "webhook did not answer within %s", h.timeout)
		return fmt.Errorf("%w (%w)", coded, err)
	}
	if errors.Is(err, context.Canceled) {
		// The event was abandoned (client gone, server stopping) while the
		// call was in flight; the backend may be fine.
		coded := gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook call was canceled")
		return fmt.Errorf("%w (%w)", coded, err)
	}
	coded := gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook is unreachable")
	return fmt.Errorf("%w (%w)", coded, err)
}

// webhookAction is one entry of an answer's "actions".
type webhookAction struct {
	Type  string          `json:"type"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Room  string          `json:"room"`
}

// parseWebhookAnswer reads a 2xx answer. An object with "reply" or
// "actions" is an envelope: the ack is its reply ({"ok": true} when it has
// only actions). Any other JSON value is the ack itself, kept as raw JSON so
// that it reaches the client unchanged. An empty body acks with no
// argument. Every action is checked before any is performed, so that a
// malformed answer changes nothing.
func parseWebhookAnswer(answer []byte) (ack any, actions []webhookAction, err error) {
	answer = bytes.TrimSpace(answer)
	if len(answer) == 0 {
		return nil, nil, nil
	}
	if !json.Valid(answer) {
		return nil, nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answer is not JSON")
	}
	if answer[0] != '{' {
		return json.RawMessage(answer), nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(answer, &fields); err != nil {
		return nil, nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answer is not JSON")
	}
	reply, hasReply := fields["reply"]
	rawActions, hasActions := fields["actions"]
	if hasActions {
		if actions, err = parseWebhookActions(rawActions); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case hasReply:
		return reply, actions, nil
	case hasActions:
		return okReply(), actions, nil
	default:
		return json.RawMessage(answer), nil, nil
	}
}

// parseWebhookActions decodes and checks the "actions" array.
func parseWebhookActions(raw json.RawMessage) ([]webhookAction, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var actions []webhookAction
	if err := json.Unmarshal(raw, &actions); err != nil {
		return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answer: actions must be an array of objects")
	}
	for i, a := range actions {
		if err := a.check(); err != nil {
			return nil, gatehouse.Errorf(gatehouse.CodeUpstreamError, "webhook answer: action %d: %s", i, err)
		}
	}
	return actions, nil
}

// check reports what a well-formed action of its type lacks.
func (a webhookAction) check() error {
	switch a.Type {
	case "emit", "broadcast":
		if a.Event == "" {
			return fmt.Errorf("%s needs an event", a.Type)
		}
	case "join", "leave":
		if a.Room == "" {
			return fmt.Errorf("%s needs a room", a.Type)
		}
	default:
		return fmt.Errorf("unknown type %q (want emit, broadcast, join or leave)", a.Type)
	}
	return nil
}

// perform carries the action out on the caller's socket. Data is passed as
// raw JSON, as the backend wrote it; an action without data sends the event
// with no argument.
func (a webhookAction) perform(ctx context.Context, s gatehouse.Socket) error {
	var args []any
	if a.Data != nil {
		args = []any{a.Data}
	}
	switch a.Type {
	case "emit":
		return s.Emit(a.Event, args...)
	case "broadcast":
		msg := gatehouse.Broadcast{Event: a.Event, Args: args}
		if a.Room != "" {
			msg.Rooms = []string{a.Room}
		}
		return s.Broadcast(ctx, msg)
	case "join":
		return s.Join(a.Room)
	case "leave":
		return s.Leave(a.Room)
	}
	return fmt.Errorf("unknown action type %q", a.Type)
}

// optionPos returns the position of the value of key in opts, or of opts
// itself when the key is not written, so that errors about one option point
// at it.
func optionPos(opts config.Options, key string) config.Pos { return opts.PosAt(key) }

// validHeaderName reports whether name is an HTTP token (RFC 9110 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
