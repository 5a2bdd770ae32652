package explain

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
)

// Report is the whole description of one config.
type Report struct {
	Config  string  `json:"config"`
	Adapter Adapter `json:"adapter"`
	Token   *Token  `json:"token,omitempty"`
	// ServerAPIKeys counts the keys of the server API (api.keys), which
	// are never shown.
	ServerAPIKeys int         `json:"server_api_keys"`
	Limits        []Limit     `json:"limits"`
	Namespaces    []Namespace `json:"namespaces"`
}

// Adapter says how broadcasts travel and what that does to events.
type Adapter struct {
	Kind string `json:"kind"`
	// URL is the Redis URL, its password and query masked.
	URL string `json:"url,omitempty"`
	// Distributed is set when the adapter forwards broadcasts to other
	// gateway processes.
	Distributed bool `json:"distributed"`
}

// Token says where the token is read and how it is verified (auth.jwt).
type Token struct {
	// Upgrade are the places of the upgrade request searched, in order.
	Upgrade []string `json:"upgrade_lookup"`
	// ConnectAuthKey is the key of the CONNECT auth payload searched first.
	ConnectAuthKey string    `json:"connect_auth_key"`
	Keys           []string  `json:"keys"`
	Algorithms     []string  `json:"algorithms"`
	Issuer         string    `json:"issuer,omitempty"`
	Audience       string    `json:"audience,omitempty"`
	RequireExp     bool      `json:"require_exp"`
	Leeway         string    `json:"leeway"`
	MaxSize        string    `json:"max_size"`
	OnExpiry       string    `json:"on_expiry"`
	ExpiryWarning  string    `json:"expiry_warning"`
	Errors         []Refusal `json:"errors"`
}

// Limit is one limit of server.limits (or server) that applies to clients.
type Limit struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Code is the C2 code of the refusal, or "" when the limit closes the
	// connection instead.
	Code string `json:"code,omitempty"`
	What string `json:"what"`
}

// Refusal is an error a client can get: its code and when.
type Refusal struct {
	Code string `json:"code"`
	When string `json:"when"`
}

// Namespace is one namespace's chains.
type Namespace struct {
	Name          string    `json:"name"`
	Auth          string    `json:"auth"`
	ConnectErrors []Refusal `json:"connect_errors"`
	// Authorizer is the backend asked at CONNECT, before the connect
	// guards; nil when the namespace declares none.
	Authorizer    *Authorizer `json:"authorizer,omitempty"`
	ConnectGuards []Step      `json:"connect_guards"`
	OnConnect     []Step      `json:"on_connect"`
	OnDisconnect  []Step      `json:"on_disconnect"`
	// EventAdmission are the refusals the gateway itself may answer to any
	// event before its chain runs (flood, queued bytes, shutdown).
	EventAdmission []Refusal `json:"event_admission"`
	Events         []Event   `json:"events"`
	// UnknownEvent is the refusal of an event the namespace does not declare.
	UnknownEvent Refusal `json:"unknown_event"`
}

// Authorizer is a namespace's authorizer as the gateway runs it: where it
// asks (the URL's secrets masked), what it forwards, and its bounds. The
// values of request_headers are left out: they are credentials.
type Authorizer struct {
	URL            string   `json:"url"`
	At             string   `json:"at"`
	Timeout        string   `json:"timeout"`
	OnError        string   `json:"on_error"`
	Headers        []string `json:"headers,omitempty"`
	Cookies        []string `json:"cookies,omitempty"`
	RequestHeaders []string `json:"request_headers,omitempty"`
	Cache          string   `json:"cache"`
	MaxRequest     string   `json:"max_request"`
	MaxAnswer      string   `json:"max_answer"`
	MaxInFlight    int      `json:"max_in_flight"`
}

// Event is one event's chain, its guards then its handlers.
type Event struct {
	Name string `json:"name"`
	// MayBlock is set when the event runs on its socket's queue rather than
	// on the connection's read path.
	MayBlock bool   `json:"may_block"`
	Steps    []Step `json:"steps"`
}

// Step is one guard or handler.
type Step struct {
	Kind string `json:"kind"` // guard or handler
	// Name is a guard's declared name.
	Name    string `json:"name,omitempty"`
	Type    string `json:"type"`
	Options any    `json:"options"`
	// MayBlock is what the built guard or handler says of itself.
	MayBlock bool `json:"may_block"`
	// OnArrival is set for a guard that runs before the event waits in
	// its socket's queue.
	OnArrival bool `json:"on_arrival,omitempty"`
	// Defaults are the option keys not written whose values in Options
	// are the defaults the type declares (see FillDefaults).
	Defaults []string  `json:"defaults,omitempty"`
	Errors   []Refusal `json:"errors"`
}

// Explain builds the gateway's chains from cfg as `gatehouse run` would and
// describes them. raw is the config file's text as written, which tells
// which values came from secret variables. Errors are a gatewayconfig.ErrorList.
func Explain(ctx context.Context, cfg *gatewayconfig.Config, raw []byte, opts gateway.Options) (*Report, error) {
	plan, err := gateway.BuildPlan(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	m := masker{raw: readRaw(raw)}
	regs := opts.Registries
	if regs.Guards == nil || regs.Handlers == nil {
		regs = gateway.DefaultRegistries()
	}
	specOf := func(kind, typ string) registry.Spec {
		if kind == "guard" {
			return regs.Guards.Spec(typ)
		}
		return regs.Handlers.Spec(typ)
	}
	r := &Report{
		Config:        cfg.File,
		Adapter:       Adapter{Kind: cfg.Adapter.Kind, Distributed: plan.Distributed},
		Token:         describeToken(cfg),
		Limits:        describeLimits(cfg.Server),
		ServerAPIKeys: len(cfg.API.Keys),
	}
	if cfg.Adapter.Redis != nil {
		r.Adapter.URL = maskURL(cfg.Adapter.Redis.URL)
	}
	for _, ns := range plan.Namespaces {
		r.Namespaces = append(r.Namespaces, describeNamespace(ns, cfg, m, specOf))
	}
	return r, nil
}

// Select keeps only the namespace named, and of it only the event named
// when event is not empty.
func (r *Report) Select(namespace, event string) error {
	for _, ns := range r.Namespaces {
		if ns.Name != namespace {
			continue
		}
		if event != "" {
			kept := ns.Events[:0:0]
			for _, ev := range ns.Events {
				if ev.Name == event {
					kept = append(kept, ev)
				}
			}
			if len(kept) == 0 {
				return fmt.Errorf("namespace %s declares no event %q%s", namespace, event,
					gatewayconfig.Suggest(event, eventNames(ns)))
			}
			ns.Events = kept
		}
		r.Namespaces = []Namespace{ns}
		return nil
	}
	names := make([]string, 0, len(r.Namespaces))
	for _, ns := range r.Namespaces {
		names = append(names, ns.Name)
	}
	return fmt.Errorf("%s declares no namespace %q%s; namespaces: %s", r.Config, namespace,
		gatewayconfig.Suggest(namespace, names), strings.Join(names, ", "))
}

func eventNames(ns Namespace) []string {
	names := make([]string, 0, len(ns.Events))
	for _, ev := range ns.Events {
		names = append(names, ev.Name)
	}
	return names
}

// describeToken tells where the token is read, or nil without auth.jwt.
func describeToken(cfg *gatewayconfig.Config) *Token {
	j := cfg.Auth.JWT
	if j == nil {
		return nil
	}
	t := &Token{
		Upgrade:        j.Lookup,
		ConnectAuthKey: j.AuthKey,
		Algorithms:     j.Algorithms,
		Issuer:         j.Issuer,
		Audience:       j.Audience,
		RequireExp:     j.RequireExp == nil || *j.RequireExp,
		Leeway:         j.Leeway.String(),
		MaxSize:        j.MaxSize.String(),
		OnExpiry:       cfg.Auth.OnExpiry,
		ExpiryWarning:  cfg.Auth.ExpiryWarning.String(),
		Errors: []Refusal{
			{"unauthorized", "a token at the upgrade does not verify (HTTP 401), or one at CONNECT does not (CONNECT_ERROR)"},
			{"token_expired", "the token expires while connected (on_expiry: disconnect), or has expired at CONNECT"},
		},
	}
	if j.Secret != "" {
		t.Keys = append(t.Keys, "secret "+Masked)
	}
	for _, k := range j.PublicKeys {
		t.Keys = append(t.Keys, "public key file "+k)
	}
	if j.JWKSURL != "" {
		t.Keys = append(t.Keys, "jwks_url "+maskURL(j.JWKSURL)+" refreshed every "+j.JWKSRefresh.String())
	}
	return t
}

// describeLimits lists the limits a client meets, with their refusals.
func describeLimits(s gatewayconfig.Server) []Limit {
	l := s.Limits
	count := func(n int) string {
		if n <= 0 {
			return "off"
		}
		return fmt.Sprint(n)
	}
	flood := "off"
	if l.Flood.Rate > 0 {
		flood = fmt.Sprintf("%g per %s, burst %d, disconnect after %s refused in a row",
			l.Flood.Rate, l.Flood.Per, l.Flood.Burst, count(l.Flood.DisconnectAfter))
	}
	return []Limit{
		{"server.max_payload", s.MaxPayload.String(), "payload_too_large", "a larger polling POST is answered 413; a larger WebSocket message or packet closes the connection"},
		{"server.limits.flood", flood, "rate_limited", "every event of a socket draws from one bucket; the refusal carries retry_after_ms"},
		{"server.limits.max_queued_bytes_per_socket", s.Limits.MaxQueuedBytesPerSocket.String(), "payload_too_large", "bytes of one socket's events waiting behind earlier work"},
		{"server.limits.max_namespaces_per_session", count(l.MaxNamespacesPerSession), "limit_exceeded", "a CONNECT past it is refused"},
		{"server.limits.max_connections_per_user", count(l.MaxConnectionsPerUser), "limit_exceeded", "sockets of one user, by claim " + l.UserClaim + ", in one namespace across the cluster; a CONNECT past it is refused"},
		{"server.limits.max_rooms_per_socket", count(l.MaxRoomsPerSocket), "limit_exceeded", "a join past it is refused"},
		{"server.limits.max_connections", count(l.MaxConnections), "unavailable", "a handshake past it is refused"},
		{"server.limits.max_connections_per_ip", count(l.MaxConnectionsPerIP), "unavailable", "a handshake from an address past it is refused"},
		{"server.limits.max_tcp_connections_per_ip", count(l.MaxTCPConnectionsPerIP), "", "a TCP connection past it is closed at accept"},
		{"server.limits.handshake_timeout", l.HandshakeTimeout.String(), "", "a request's headers must arrive within it"},
		{"server.limits.body_timeout", l.BodyTimeout.String(), "invalid_payload", "a request's body must arrive within it"},
		{"server.limits.message_timeout", l.MessageTimeout.String(), "", "a WebSocket message must arrive within it, or the connection closes"},
		{"server.limits.binary_packet_timeout", l.BinaryPacketTimeout.String(), "", "a binary packet's attachments must arrive within it, or the connection closes"},
		{"server.limits.connect_timeout", l.ConnectTimeout.String(), "", "a session must CONNECT a namespace within it, or it is closed"},
		{"server.send_queue", fmt.Sprintf("%d packets, slow_consumer %s", s.SendQueue, s.SlowConsumer), "", "packets waiting for a slow client"},
		{"server.ack_timeout", s.AckTimeout.String(), "upstream_timeout", "a client's answer to an emit with await_ack"},
	}
}

// specLookup finds the spec of a guard ("guard") or handler type.
type specLookup func(kind, typ string) registry.Spec

// describeNamespace tells one namespace's chains.
func describeNamespace(ns gateway.NamespacePlan, cfg *gatewayconfig.Config, m masker, specOf specLookup) Namespace {
	out := Namespace{
		Name:           ns.Name,
		Auth:           ns.Auth,
		ConnectErrors:  connectRefusals(ns.Auth, cfg.Auth.JWT != nil),
		ConnectGuards:  steps("guard", ns.ConnectGuards, m, specOf),
		OnConnect:      steps("handler", ns.OnConnect, m, specOf),
		OnDisconnect:   steps("handler", ns.OnDisconnect, m, specOf),
		UnknownEvent:   Refusal{"unknown_event", "an event this namespace does not declare"},
		EventAdmission: admissionRefusals(cfg.Server.Limits),
	}
	out.ConnectErrors = append(out.ConnectErrors, capRefusals(ns.Name, cfg)...)
	for _, decl := range cfg.Namespaces {
		if decl.Name == ns.Name && decl.Authorizer != nil {
			out.Authorizer = describeAuthorizer(decl.Authorizer)
			out.ConnectErrors = append(out.ConnectErrors, authorizerRefusals(decl.Authorizer)...)
		}
	}
	for _, ev := range ns.Events {
		e := Event{Name: ev.Name, MayBlock: ev.MayBlock}
		e.Steps = steps("guard", ev.Guards, m, specOf)
		for i := range e.Steps {
			e.Steps[i].OnArrival = i < ev.OnArrival
		}
		e.Steps = append(e.Steps, steps("handler", ev.Handlers, m, specOf)...)
		out.Events = append(out.Events, e)
	}
	return out
}

// connectRefusals are the gateway's own refusals of a CONNECT, before the
// connect guards.
func connectRefusals(auth string, jwt bool) []Refusal {
	var out []Refusal
	if jwt && auth != "none" {
		out = append(out, Refusal{"unauthorized", "a token in the CONNECT auth payload or from the upgrade does not verify"})
		if auth == "required" {
			out = append(out, Refusal{"unauthorized", "no token at all (auth: required)"})
		}
		out = append(out, Refusal{"token_expired", "the token from the upgrade has expired since"})
	}
	return append(out,
		Refusal{"limit_exceeded", "the session already holds server.limits.max_namespaces_per_session namespaces"},
		Refusal{"unavailable", "the gateway is shutting down"})
}

// capRefusals are the refusals of a CONNECT by the connection caps: the
// user's (for a socket with claims) and the namespace's.
func capRefusals(name string, cfg *gatewayconfig.Config) []Refusal {
	var out []Refusal
	if cfg.Server.Limits.MaxConnectionsPerUser > 0 {
		out = append(out, Refusal{"limit_exceeded", "the user already holds server.limits.max_connections_per_user sockets here"})
	}
	for _, decl := range cfg.Namespaces {
		if decl.Name == name && decl.MaxConnections > 0 {
			out = append(out, Refusal{"unavailable", fmt.Sprintf("the namespace already holds its max_connections (%d) sockets", decl.MaxConnections)})
		}
	}
	return out
}

// describeAuthorizer tells a namespace's authorizer.
func describeAuthorizer(z *gatewayconfig.Authorizer) *Authorizer {
	out := &Authorizer{
		URL: maskURL(z.URL), At: z.At, Timeout: z.Timeout.String(), OnError: z.OnError,
		Headers: z.Headers, Cookies: z.Cookies,
		Cache:      fmt.Sprintf("%d answers, %s, %s", z.Cache.Size, z.Cache.MaxBytes, z.Cache.TTL),
		MaxRequest: z.MaxRequest.String(), MaxAnswer: z.MaxAnswer.String(), MaxInFlight: z.MaxInFlight,
	}
	if z.Cache.Size == 0 || z.Cache.TTL == 0 || z.Cache.MaxBytes == 0 {
		out.Cache = "off"
	}
	for name := range z.RequestHeaders {
		out.RequestHeaders = append(out.RequestHeaders, name)
	}
	slices.Sort(out.RequestHeaders)
	return out
}

// authorizerRefusals are the refusals of a CONNECT that an authorizer
// answers, after the token check and before the connect guards.
func authorizerRefusals(z *gatewayconfig.Authorizer) []Refusal {
	out := []Refusal{
		{"unauthorized", "the authorizer refuses (or forbidden, token_expired, rate_limited: the code it answers)"},
		{"payload_too_large", "what the client presented is over the authorizer's max_request"},
		{"unavailable", "max_in_flight calls already wait on the authorizer"},
	}
	if z.OnError != "allow" {
		out = append(out,
			Refusal{"upstream_timeout", "the authorizer does not answer within its timeout (on_error: deny)"},
			Refusal{"upstream_error", "the authorizer is unreachable or its answer unusable (on_error: deny)"})
	}
	return out
}

// admissionRefusals are the gateway's own refusals of an event.
func admissionRefusals(l gatewayconfig.Limits) []Refusal {
	var out []Refusal
	if l.Flood.Rate > 0 {
		out = append(out, Refusal{"rate_limited", "the socket's flood bucket is empty (server.limits.flood)"})
	}
	if l.MaxQueuedBytesPerSocket > 0 {
		out = append(out, Refusal{"payload_too_large", "the socket's waiting events would hold more than server.limits.max_queued_bytes_per_socket"})
	}
	return append(out, Refusal{"unavailable", "the gateway is shutting down"})
}

// steps describes built guards or handlers.
func steps(kind string, plans []gateway.StepPlan, m masker, specOf specLookup) []Step {
	out := make([]Step, 0, len(plans))
	for _, p := range plans {
		s := Step{Kind: kind, Name: p.Name, Type: p.Type, MayBlock: p.MayBlock,
			Options: m.value(gatewayconfig.OptionsNode(p.Options), "", false)}
		s.Errors = refusalsOf(specOf(kind, p.Type), s.Options)
		out = append(out, s)
	}
	return out
}
