package tsgen

import (
	"regexp"
	"strings"
	"unicode"
)

// identifier matches the property names TypeScript takes unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// propertyName quotes name unless it is an identifier.
func propertyName(name string) string {
	if identifier.MatchString(name) {
		return name
	}
	return literal(name)
}

// pascal turns "message_body" or "room-body" into "MessageBody".
func pascal(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "T" + out
	}
	return out
}

// namespacePrefix names a namespace's types: "/chat" gives "Chat", the
// main namespace "/" gives "Main".
func namespacePrefix(ns string) string {
	if strings.Trim(ns, "/") == "" {
		return "Main"
	}
	return pascal(ns)
}

// union joins types with "|", each once, unknown absorbing the others.
func union(parts ...string) string {
	seen := make(map[string]bool, len(parts))
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" || seen[p] {
			continue
		}
		if p == "unknown" {
			return "unknown"
		}
		seen[p] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return "never"
	}
	return strings.Join(out, " | ")
}

// paren wraps a union or intersection so that it can take [] or &.
func paren(ts string) string {
	if topLevel(ts, "|&") {
		return "(" + ts + ")"
	}
	return ts
}

// topLevel reports whether ts has one of chars outside brackets and strings.
func topLevel(ts, chars string) bool {
	depth, quoted := 0, false
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == '}' || c == ']' || c == ')':
			depth--
		case depth == 0 && strings.IndexByte(chars, c) >= 0:
			return true
		}
	}
	return false
}

// objectLiteral is an object type of members ("name: type").
func objectLiteral(members []string) string {
	if len(members) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(members, "; ") + " }"
}
