package explain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON, for tools.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("explain: encode JSON: %w", err)
	}
	return nil
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(indent int, format string, args ...any) {
		fmt.Fprintf(b, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
	}
	p(0, "config %s", r.Config)
	r.writeAdapter(p)
	if r.ServerAPIKeys > 0 {
		p(0, "server API keys: %d (%s)", r.ServerAPIKeys, Masked)
	}
	r.writeToken(p)
	p(0, "")
	p(0, "limits")
	for _, l := range r.Limits {
		code := ""
		if l.Code != "" {
			code = " -> " + l.Code
		}
		p(1, "%s: %s%s (%s)", l.Key, l.Value, code, l.What)
	}
	for _, ns := range r.Namespaces {
		p(0, "")
		writeNamespace(p, ns)
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("explain: write: %w", err)
	}
	return nil
}

type printer func(indent int, format string, args ...any)

func (r *Report) writeAdapter(p printer) {
	switch {
	case r.Adapter.URL != "":
		p(0, "adapter %s %s", r.Adapter.Kind, r.Adapter.URL)
	default:
		p(0, "adapter %s", r.Adapter.Kind)
	}
	if r.Adapter.Distributed {
		p(1, "broadcasts reach the sockets of every gateway process sharing it")
	}
}

func (r *Report) writeToken(p printer) {
	t := r.Token
	p(0, "")
	if t == nil {
		for _, ns := range r.Namespaces {
			if ns.Authorizer != nil {
				p(0, "token: none (no auth.jwt; sockets carry the claims an authorizer gives, none elsewhere)")
				return
			}
		}
		p(0, "token: none (no auth.jwt; sockets carry no claims)")
		return
	}
	p(0, "token (auth.jwt)")
	p(1, "read at CONNECT from the auth payload key %q, else from the upgrade request: %s", t.ConnectAuthKey, strings.Join(t.Upgrade, ", "))
	p(1, "verified with %s; algorithms %s", strings.Join(t.Keys, ", "), strings.Join(t.Algorithms, ", "))
	if t.Issuer != "" || t.Audience != "" {
		p(1, "issuer %q, audience %q", t.Issuer, t.Audience)
	}
	p(1, "exp required: %t, leeway %s, max size %s", t.RequireExp, t.Leeway, t.MaxSize)
	p(1, "on expiry: %s (auth:expiring sent %s before)", t.OnExpiry, t.ExpiryWarning)
	writeRefusals(p, 1, t.Errors)
}

func writeNamespace(p printer, ns Namespace) {
	p(0, "namespace %s (auth: %s)", ns.Name, ns.Auth)
	p(1, "connect")
	writeRefusals(p, 2, ns.ConnectErrors)
	if z := ns.Authorizer; z != nil {
		p(2, "authorizer POST %s at %s (timeout %s, on_error %s, cache %s)", z.URL, z.At, z.Timeout, z.OnError, z.Cache)
		p(3, "forwards headers %v, cookies %v; max_request %s, max_answer %s, max_in_flight %d",
			z.Headers, z.Cookies, z.MaxRequest, z.MaxAnswer, z.MaxInFlight)
	}
	writeSteps(p, 2, ns.ConnectGuards)
	if len(ns.OnConnect) > 0 {
		p(1, "on_connect")
		writeSteps(p, 2, ns.OnConnect)
	}
	if len(ns.OnDisconnect) > 0 {
		p(1, "on_disconnect")
		writeSteps(p, 2, ns.OnDisconnect)
	}
	p(1, "every event, before its guards")
	writeRefusals(p, 2, ns.EventAdmission)
	for _, ev := range ns.Events {
		where := "runs on the read path"
		if ev.MayBlock {
			where = "may block: runs on its socket's queue"
		}
		p(1, "event %s (%s)", ev.Name, where)
		writeSteps(p, 2, ev.Steps)
	}
	p(1, "any other event -> %s", ns.UnknownEvent.Code)
}

func writeSteps(p printer, indent int, steps []Step) {
	for i, s := range steps {
		label := s.Kind + " " + s.Type
		if s.Name != "" {
			label = s.Kind + " " + s.Name + " (" + s.Type + ")"
		}
		var notes []string
		if s.MayBlock {
			notes = append(notes, "may block")
		}
		if s.OnArrival {
			notes = append(notes, "on arrival")
		}
		note := ""
		if len(notes) > 0 {
			note = " [" + strings.Join(notes, ", ") + "]"
		}
		p(indent, "%d. %s%s", i+1, label, note)
		if s.Options != nil {
			p(indent+1, "options %s", flow(s.Options))
		}
		if len(s.Defaults) > 0 {
			p(indent+1, "defaults (not written) %s", strings.Join(s.Defaults, ", "))
		}
		writeRefusals(p, indent+1, s.Errors)
	}
}

func writeRefusals(p printer, indent int, refusals []Refusal) {
	for _, r := range refusals {
		p(indent, "-> %s: %s", r.Code, r.When)
	}
}

// flow writes an options value on one line, as YAML's flow style would,
// keys in file order.
func flow(v any) string {
	switch v := v.(type) {
	case object:
		parts := make([]string, len(v))
		for i, m := range v {
			parts[i] = m.Key + ": " + flow(m.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = flow(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		// Quote what YAML's flow style would read otherwise: indicators,
		// a leading tag or anchor sign, surrounding spaces.
		if v == "" || strings.ContainsAny(v, ":{}[],#'\"") || strings.ContainsAny(v[:1], "!&*?|>%@`-") ||
			strings.TrimSpace(v) != v {
			b, _ := json.Marshal(v)
			return string(b)
		}
		return v
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}
