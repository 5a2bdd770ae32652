package explain

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Masked stands for a secret value in the output.
const Masked = "******"

// secretKey matches option names whose values are secrets whatever they
// say: passwords, tokens, keys, signatures, authorization headers.
var secretKey = regexp.MustCompile(`(?i)(secret|token|passw|pwd|api_?key|access_?key|private_?key|credential|authorization|cookie|signature)`)

// secretVar matches the names of environment variables whose values are
// secrets: ${JWT_SECRET}, ${BACKEND_TOKEN}, ${API_KEY}, ${DB_PASSWORD}.
var secretVar = regexp.MustCompile(`(?i)(secret|token|passw|pwd|key|private|credential|auth|cookie|signature|salt)`)

// varRef matches ${NAME} and ${NAME:-default} in a raw scalar.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// position is a line and column in the config file.
type position struct{ line, column int }

// rawScalars maps each scalar of the file as written, before
// interpolation, to its position, so that a value that came from a secret
// variable is known after the loader interpolated it.
type rawScalars map[position]string

// readRaw parses the file's text without interpolating it. A file that does
// not parse gives no raw scalars: the loader refused it already.
func readRaw(data []byte) rawScalars {
	raw := rawScalars{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return raw
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			raw[position{n.Line, n.Column}] = n.Value
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return raw
}

// fromSecretVar reports whether the scalar at n was written with a
// reference to a variable whose name looks secret.
func (r rawScalars) fromSecretVar(n *yaml.Node) bool {
	return refersToSecret(r[position{n.Line, n.Column}])
}

// refersToSecret reports whether raw names a secret-looking variable.
func refersToSecret(raw string) bool {
	for _, m := range varRef.FindAllStringSubmatch(raw, -1) {
		if secretVar.MatchString(m[1]) {
			return true
		}
	}
	return false
}

// maskURL hides the password of a URL's user info and the values of its
// query, which commonly carry credentials; a string that is not a URL with
// a scheme and host comes back unchanged.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{Masked}
		}
		u.RawQuery = q.Encode()
	}
	// Encode escapes the mask; it reads better as written.
	return strings.ReplaceAll(u.String(), url.QueryEscape(Masked), Masked)
}

// member is one key and value of an object, kept in file order.
type member struct {
	Key   string
	Value any
}

// object is a YAML mapping in file order; it marshals to a JSON object with
// its keys in that order.
type object []member

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		value, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// masker turns option nodes into values with their secrets masked.
type masker struct{ raw rawScalars }

// value converts n. key is the mapping key n is the value of, and
// underHeaders is set inside a "headers" mapping, whose values (a bearer
// token, a signature) are all masked.
func (m masker) value(n *yaml.Node, key string, underHeaders bool) any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return m.value(n.Content[0], key, underHeaders)
	case yaml.AliasNode:
		return m.value(n.Alias, key, underHeaders)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, m.value(c, key, underHeaders))
		}
		return out
	case yaml.MappingNode:
		out := make(object, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			out = append(out, member{k, m.value(n.Content[i+1], k, underHeaders || k == "headers")})
		}
		return out
	}
	if underHeaders || secretKey.MatchString(key) || m.raw.fromSecretVar(n) {
		return Masked
	}
	var v any
	if err := n.Decode(&v); err != nil {
		v = n.Value
	}
	if s, ok := v.(string); ok {
		return maskURL(s)
	}
	return v
}
