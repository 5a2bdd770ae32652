package gatewayconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/reserved"
)

// Load reads, interpolates, decodes, defaults and validates the config file
// at path, taking ${VAR} values from the process environment. Errors are an
// ErrorList holding every problem found, in file order.
func Load(path string) (*Config, error) {
	cfg, err := LoadAll(path)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadAll is Load for checkers such as `gatehouse validate`: with the errors
// it also returns the config as far as it decoded, so that the caller can go
// on building what did decode and report every error at once. The config is
// nil only when the file cannot be read or is not YAML.
func LoadAll(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		reason := err
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			reason = pathErr.Err
		}
		return nil, ErrorList{Errorf(Pos{File: path}, "cannot read config: %v", reason)}
	}
	return ParseAll(path, data, os.LookupEnv)
}

// Parse is Load for a config already in memory: file names it in errors and
// is the base for relative paths; env looks variables up (nil stands for an
// empty environment). On error the config is nil and the error an ErrorList.
func Parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	cfg, err := ParseAll(file, data, env)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseAll is Parse that, like LoadAll, also returns the partly decoded
// config along with the errors.
func ParseAll(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, perr := parseYAML(file, data)
	if perr != nil {
		return nil, ErrorList{perr}
	}
	d := newDecoder(file)
	d.positions = map[string]Pos{}
	cfg := &Config{File: file, positions: d.positions}
	if root != nil {
		d.interpolate(root, env)
		d.decodeConfig(root, cfg)
	}
	cfg.applyDefaults()
	errs := d.errs
	// A value that already failed to decode would only repeat itself as
	// "out of range" or "required", so validation errors at the same place
	// are dropped.
	failed := map[Pos]bool{}
	for _, e := range errs {
		failed[e.Pos] = true
	}
	for _, e := range cfg.validate() {
		if !failed[e.Pos] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return cfg, errs.sorted()
	}
	return cfg, nil
}

// PosOf returns where the value at a field path is written, for errors found
// after loading: "server.listen", "auth.jwt.public_keys[0]",
// "namespaces./chat.events.join.guards[1]". When that value is not written,
// it falls back to the nearest enclosing one, and finally to the file itself.
func (c *Config) PosOf(path string) Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := c.positions[p]; ok {
			return pos
		}
	}
	return Pos{File: c.File}
}

// Dir is the directory of the config file, against which relative file
// names (public keys, TLS files, schema files) resolve.
func (c *Config) Dir() string { return filepath.Dir(c.File) }

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document into a node tree. An empty
// file is a nil tree, not an error.
func parseYAML(file string, data []byte) (root *yaml.Node, perr *Error) {
	defer func() {
		// The parser is not supposed to panic; if it does, the file is
		// still refused with a message rather than crashing the gateway.
		if r := recover(); r != nil {
			root, perr = nil, Errorf(Pos{File: file}, "invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(file, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Errorf(nodePos(file, &extra), "a config file holds one YAML document; remove the second one (after ---)")
	case !errors.Is(err, io.EOF):
		return nil, yamlError(file, data, err)
	}
	return &doc, nil
}

// yamlError places a yaml.v3 syntax error ("yaml: line 3: ...") at its
// line. yaml.v3 reports the line where the enclosing construct starts, or
// no line at all, so the line is refined to the first one at which the file
// read up to that line fails with the same message.
func yamlError(file string, data []byte, err error) *Error {
	line, msg := 0, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if refined := firstFailingLine(data, msg, max(line, 1)); refined > 0 {
		line = refined
	}
	if line == 0 {
		return Errorf(Pos{File: file}, "invalid YAML: %s", msg)
	}
	return Errorf(Pos{File: file, Line: line, Column: 1}, "invalid YAML: %s", msg)
}

// firstFailingLine returns the first line, from start on, at which the
// file cut after that line fails to parse with message msg; 0 if none does.
// It gallops forward from start and then bisects, so a long file costs a
// few dozen parses rather than one per line.
func firstFailingLine(data []byte, msg string, start int) int {
	// ends[i] is the offset just after line i+1.
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	failsAt := func(line int) bool {
		err := parseAll(data[:ends[line-1]])
		if err == nil {
			return false
		}
		got := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			got = m[2]
		}
		return got == msg
	}
	if start > len(ends) {
		return 0
	}
	lastGood, step := start-1, 1
	for line := start; ; line = min(line+step, len(ends)) {
		if failsAt(line) {
			// The first failing line is in (lastGood, line]; failures of one
			// kind persist once the file has shown them, so bisect.
			lo, hi := lastGood, line
			for hi-lo > 1 {
				mid := (lo + hi) / 2
				if failsAt(mid) {
					hi = mid
				} else {
					lo = mid
				}
			}
			return hi
		}
		if line == len(ends) {
			return 0
		}
		lastGood, step = line, step*2
	}
}

// parseAll parses every document of data, returning the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// topLevelKeys are the sections of a gateway.yaml, in documentation order.
var topLevelKeys = []string{"server", "auth", "adapter", "api", "cluster", "guards", "namespaces"}

func (d *decoder) decodeConfig(root *yaml.Node, cfg *Config) {
	n, release := d.follow(root)
	defer release()
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping with the keys %s, got %s", strings.Join(topLevelKeys, ", "), describe(n))
		return
	}
	for _, kv := range d.pairs(n) {
		switch kv.key.Value {
		case "server":
			d.decode(kv.value, reflect.ValueOf(&cfg.Server).Elem(), "server")
		case "auth":
			d.decode(kv.value, reflect.ValueOf(&cfg.Auth).Elem(), "auth")
		case "adapter":
			d.decode(kv.value, reflect.ValueOf(&cfg.Adapter).Elem(), "adapter")
		case "api":
			d.decode(kv.value, reflect.ValueOf(&cfg.API).Elem(), "api")
		case "cluster":
			d.decode(kv.value, reflect.ValueOf(&cfg.Cluster).Elem(), "cluster")
		case "guards":
			cfg.Guards = d.decodeGuards(kv.value)
		case "namespaces":
			cfg.Namespaces = d.decodeNamespaces(kv.value)
		default:
			d.errs = append(d.errs, unknownKey(d.pos(kv.key), kv.key.Value, "", topLevelKeys))
		}
	}
}

// mappingOf resolves n and checks it is a mapping of named entries; a null
// section is simply empty.
func (d *decoder) mappingOf(n *yaml.Node, path, what string) (*yaml.Node, func()) {
	n, release := d.follow(n)
	if n == nil || isNull(n) {
		return nil, release
	}
	d.positions[path] = d.pos(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping of %s, got %s", what, describe(n))
		return nil, release
	}
	return n, release
}

func (d *decoder) decodeGuards(n *yaml.Node) []GuardDecl {
	n, release := d.mappingOf(n, "guards", "guard names to guards")
	defer release()
	if n == nil {
		return nil
	}
	var guards []GuardDecl
	for _, kv := range d.pairs(n) {
		name := kv.key.Value
		if name == "" {
			d.errorf(kv.key, "a guard needs a name")
			continue
		}
		typ, opts, err := typedEntry(kv.value, d.file, fmt.Sprintf("guard %q", name), "guards:\n  NAME:\n    TYPE: options")
		if err != nil {
			err.Pos = d.pos(kv.key)
			d.errs = append(d.errs, err)
			continue
		}
		d.positions["guards."+name] = d.pos(kv.key)
		guards = append(guards, GuardDecl{Name: name, Type: typ, Options: opts.WithName(name), Pos: d.pos(kv.key)})
	}
	return guards
}

// typedEntry reads an entry written as a mapping with exactly one key, the
// type, whose value holds the options. A null value means "no options".
func typedEntry(n *yaml.Node, file, what, example string) (string, Options, *Error) {
	n = followPlain(n)
	if n.Kind != yaml.MappingNode {
		return "", Options{}, Errorf(nodePos(file, n), "%s must be a mapping with one key, its type, as in %q; got %s", what, example, describe(n))
	}
	switch len(n.Content) / 2 {
	case 1:
	case 0:
		return "", Options{}, Errorf(nodePos(file, n), "%s names no type; write it as %q", what, example)
	default:
		var types []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			types = append(types, n.Content[i].Value)
		}
		return "", Options{}, Errorf(nodePos(file, n), "%s has %d types (%s); an entry takes exactly one", what, len(types), strings.Join(types, ", "))
	}
	key, value := n.Content[0], followPlain(n.Content[1])
	if key.Kind != yaml.ScalarNode || key.Value == "" {
		return "", Options{}, Errorf(nodePos(file, key), "%s: the type must be a plain name, got %s", what, describe(key))
	}
	if isNull(value) {
		return key.Value, NewOptions(nil, nodePos(file, key)), nil
	}
	return key.Value, NewOptions(value, nodePos(file, value)), nil
}

// followPlain resolves aliases without cycle accounting; used where the
// value is only inspected, not expanded.
func followPlain(n *yaml.Node) *yaml.Node {
	for range 100 {
		if n.Kind != yaml.AliasNode || n.Alias == nil {
			return n
		}
		n = n.Alias
	}
	return n
}

// unmarshalNode decodes a handler entry: a mapping with exactly one key,
// the handler type, whose value holds its options.
func (h *HandlerDecl) unmarshalNode(n *yaml.Node, file string) error {
	typ, opts, err := typedEntry(n, file, "a handler", "TYPE: options")
	if err != nil {
		return err
	}
	*h = HandlerDecl{Type: typ, Options: opts, Pos: nodePos(file, followPlain(n))}
	return nil
}

// unmarshalNode decodes a reference: a guard name.
func (r *Ref) unmarshalNode(n *yaml.Node, file string) error {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return Errorf(nodePos(file, n), "expected a guard name, got %s", describe(n))
	}
	*r = Ref{Name: n.Value, Pos: nodePos(file, n)}
	return nil
}

// namespaceSyntax is a namespace entry as written; events stay a node so
// that they keep their file order.
type namespaceSyntax struct {
	Auth         string        `yaml:"auth"`
	Guards       []Ref         `yaml:"guards"`
	Authorizer   *Authorizer   `yaml:"authorizer"`
	OnConnect    []HandlerDecl `yaml:"on_connect"`
	OnDisconnect []HandlerDecl `yaml:"on_disconnect"`
	Events       *yaml.Node    `yaml:"events"`
	// MaxConnections caps the namespace's sockets across the cluster.
	MaxConnections int `yaml:"max_connections"`
	// Recovery keeps lost sessions for the client to recover.
	Recovery *Recovery `yaml:"recovery"`
	// History keeps the last messages of rooms.
	History *History `yaml:"history"`
	// Presence tells who is in rooms.
	Presence *Presence `yaml:"presence"`
}

// eventSyntax is an event entry as written; handler and handlers stay nodes
// so that their presence, even empty, can be checked.
type eventSyntax struct {
	Guards   []Ref      `yaml:"guards"`
	Handler  *yaml.Node `yaml:"handler"`
	Handlers *yaml.Node `yaml:"handlers"`
}

func (d *decoder) decodeNamespaces(n *yaml.Node) []Namespace {
	n, release := d.mappingOf(n, "namespaces", "namespace names to namespaces")
	defer release()
	if n == nil {
		return nil
	}
	var namespaces []Namespace
	for _, kv := range d.pairs(n) {
		name := kv.key.Value
		if !strings.HasPrefix(name, "/") || strings.ContainsAny(name, " \t\r\n") {
			d.errorf(kv.key, "namespace name %q must start with / and contain no spaces, as in /chat", name)
			continue
		}
		path := "namespaces." + name
		var syntax namespaceSyntax
		d.decode(kv.value, reflect.ValueOf(&syntax).Elem(), path)
		d.positions[path] = d.pos(kv.key)
		namespaces = append(namespaces, Namespace{
			Name:         name,
			Pos:          d.pos(kv.key),
			Auth:         syntax.Auth,
			Guards:       syntax.Guards,
			Authorizer:   syntax.Authorizer,
			OnConnect:    syntax.OnConnect,
			OnDisconnect: syntax.OnDisconnect,
			Events:       d.decodeEvents(syntax.Events, path+".events"),
			// Checked by validate.
			MaxConnections: syntax.MaxConnections,
			Recovery:       syntax.Recovery,
			History:        syntax.History,
			Presence:       syntax.Presence,
		})
	}
	return namespaces
}

func (d *decoder) decodeEvents(n *yaml.Node, path string) []Event {
	if n == nil {
		return nil
	}
	n, release := d.mappingOf(n, path, "event names to events")
	defer release()
	if n == nil {
		return nil
	}
	var events []Event
	for _, kv := range d.pairs(n) {
		name := kv.key.Value
		if hint, isReserved := reserved.IsProtocol(name); isReserved {
			msg := fmt.Sprintf("event name %q is reserved by Socket.IO", name)
			if hint != "" {
				msg += "; " + hint
			}
			d.errorf(kv.key, "%s", msg)
			continue
		}
		if name == "" {
			d.errorf(kv.key, "an event needs a name")
			continue
		}
		eventPath := path + "." + name
		var syntax eventSyntax
		d.decode(kv.value, reflect.ValueOf(&syntax).Elem(), eventPath)
		d.positions[eventPath] = d.pos(kv.key)
		event := Event{Name: name, Pos: d.pos(kv.key), Guards: syntax.Guards}
		switch {
		case syntax.Handler != nil && syntax.Handlers != nil:
			d.errorf(kv.key, "event %q has both handler and handlers; write one handler under handler or a list under handlers", name)
		case syntax.Handler != nil:
			var h HandlerDecl
			d.decode(syntax.Handler, reflect.ValueOf(&h).Elem(), eventPath+".handler")
			if h.Type != "" {
				event.Handlers = []HandlerDecl{h}
			}
		case syntax.Handlers != nil:
			d.decode(syntax.Handlers, reflect.ValueOf(&event.Handlers).Elem(), eventPath+".handlers")
			if len(event.Handlers) == 0 && !isNull(syntax.Handlers) && syntax.Handlers.Kind == yaml.SequenceNode {
				d.errorf(syntax.Handlers, "event %q has an empty handlers list", name)
			}
		default:
			d.errorf(kv.key, "event %q has no handler; add handler: {TYPE: options} or handlers: [...]", name)
		}
		events = append(events, event)
	}
	return events
}
