package gatewayconfig

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// interpolate replaces ${VAR} and ${VAR:-default} in every scalar value of
// the tree (mapping keys are left alone), reporting each unset variable
// without a default at the scalar that names it. Aliases are not followed:
// they point at nodes the walk reaches anyway.
func (d *decoder) interpolate(n *yaml.Node, env func(string) (string, bool)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.interpolate(c, env)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.interpolate(n.Content[i], env)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		value, errs := expand(n.Value, env)
		for _, msg := range errs {
			d.errorf(n, "%s", msg)
		}
		// A scalar that failed keeps its tag, so that it stays "written"
		// and the failure is not reported again as a missing value.
		if value == n.Value || len(errs) > 0 {
			n.Value = value
			return
		}
		n.Value = value
		if n.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// A plain scalar is typed by what it finally says, so that
			// "port: ${PORT}" is an integer and "debug: ${DEBUG}" a boolean.
			n.Tag = ""
			n.Tag = n.ShortTag()
		}
	}
}

// expand interpolates one string. "$$" is a literal "$"; a "$" followed by
// anything but "{" or "$" is kept as it is. ${VAR:-default} uses the
// default when VAR is unset or empty, as a shell does.
func expand(s string, env func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var errs []string
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), errs
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, fmt.Sprintf("unterminated %q: close it with } or write $$ for a literal $", s[i:]))
			return b.String(), errs
		}
		inner := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDefault := strings.Cut(inner, ":-")
		if !validVarName(name) {
			errs = append(errs, fmt.Sprintf("invalid variable reference ${%s}: write ${NAME} or ${NAME:-default}", inner))
			continue
		}
		value, ok := env(name)
		switch {
		case hasDefault && value == "":
			value = def
		case !ok:
			errs = append(errs, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to make it optional)", name, name))
		}
		b.WriteString(value)
	}
}

// validVarName accepts shell variable names: a letter or underscore, then
// letters, digits and underscores.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
