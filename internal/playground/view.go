package playground

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// View is what the page knows of the running config: names, kinds and the
// payload schemas of the events, and nothing that could hold a secret.
type View struct {
	// EngineIOPath is where the page's sockets connect (server.path).
	EngineIOPath string `json:"engineio_path"`
	// AckTimeoutMS is how long the page waits for an ack before saying so.
	AckTimeoutMS int64          `json:"ack_timeout_ms"`
	Auth         AuthView       `json:"auth"`
	Namespaces   []NamespaceRef `json:"namespaces"`
}

// AuthView says how the page's sockets present a token.
type AuthView struct {
	// JWT is whether auth.jwt is configured.
	JWT bool `json:"jwt"`
	// AuthKey is the key of the token in the CONNECT auth payload.
	AuthKey string `json:"auth_key"`
	// MintTokens is whether the page may mint tokens; when it may not,
	// MintOffReason says why.
	MintTokens    bool   `json:"mint_tokens"`
	MintOffReason string `json:"mint_off_reason,omitempty"`
	// MintPath is the endpoint that mints, relative to the page.
	MintPath string `json:"mint_path"`
}

// NamespaceRef is one namespace of the config.
type NamespaceRef struct {
	Name string `json:"name"`
	// Auth is "required", "optional" or "none".
	Auth          string     `json:"auth"`
	ConnectGuards []GuardRef `json:"connect_guards"`
	Events        []EventRef `json:"events"`
}

// EventRef is one event of a namespace: its guard chain, its handler
// types, and the JSON Schemas of its schema guards, in chain order.
type EventRef struct {
	Name     string            `json:"name"`
	Guards   []GuardRef        `json:"guards"`
	Handlers []string          `json:"handlers"`
	Schemas  []json.RawMessage `json:"schemas"`
}

// GuardRef names a guard and its type; its options stay on the server.
type GuardRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// BuildView reads cfg into the page's view. mint says whether the page may
// mint tokens (see MintRefusal). A schema guard whose schema cannot be read
// is an error: the gateway could not have loaded that config either.
func BuildView(cfg *gatewayconfig.Config, mintEnabled bool) (*View, error) {
	v := &View{
		EngineIOPath: cfg.Server.Path,
		AckTimeoutMS: cfg.Server.AckTimeout.D().Milliseconds(),
		Auth:         authView(cfg, mintEnabled),
		Namespaces:   make([]NamespaceRef, 0, len(cfg.Namespaces)),
	}
	kinds := make(map[string]gatewayconfig.GuardDecl, len(cfg.Guards))
	for _, g := range cfg.Guards {
		kinds[g.Name] = g
	}
	schemas := map[string]json.RawMessage{}
	for _, ns := range cfg.Namespaces {
		ref := NamespaceRef{Name: ns.Name, Auth: ns.Auth, ConnectGuards: guardRefs(ns.Guards, kinds), Events: []EventRef{}}
		for _, ev := range ns.Events {
			event, err := eventRef(ev, kinds, schemas)
			if err != nil {
				return nil, fmt.Errorf("namespace %s: %w", ns.Name, err)
			}
			ref.Events = append(ref.Events, event)
		}
		v.Namespaces = append(v.Namespaces, ref)
	}
	return v, nil
}

func authView(cfg *gatewayconfig.Config, mintEnabled bool) AuthView {
	a := AuthView{JWT: cfg.Auth.JWT != nil, AuthKey: "token", MintPath: mintPath}
	if cfg.Auth.JWT != nil && cfg.Auth.JWT.AuthKey != "" {
		a.AuthKey = cfg.Auth.JWT.AuthKey
	}
	if reason := MintRefusal(cfg, mintEnabled); reason != "" {
		a.MintOffReason = reason
	} else {
		a.MintTokens = true
	}
	return a
}

func guardRefs(refs []gatewayconfig.Ref, decls map[string]gatewayconfig.GuardDecl) []GuardRef {
	out := make([]GuardRef, 0, len(refs))
	for _, r := range refs {
		out = append(out, GuardRef{Name: r.Name, Kind: decls[r.Name].Type})
	}
	return out
}

// eventRef describes ev; schemas caches each schema guard's JSON by name,
// since several events share one.
func eventRef(ev gatewayconfig.Event, decls map[string]gatewayconfig.GuardDecl, schemas map[string]json.RawMessage) (EventRef, error) {
	e := EventRef{Name: ev.Name, Guards: guardRefs(ev.Guards, decls), Handlers: []string{}, Schemas: []json.RawMessage{}}
	for _, h := range ev.Handlers {
		e.Handlers = append(e.Handlers, h.Type)
	}
	for _, r := range ev.Guards {
		decl := decls[r.Name]
		if decl.Type != "schema" {
			continue
		}
		doc, ok := schemas[r.Name]
		if !ok {
			var err error
			if doc, err = schemaJSON(decl.Options); err != nil {
				return EventRef{}, fmt.Errorf("event %s: guard %s: %w", ev.Name, r.Name, err)
			}
			schemas[r.Name] = doc
		}
		e.Schemas = append(e.Schemas, doc)
	}
	return e, nil
}

// schemaJSON is a schema guard's JSON Schema as JSON, its keys in the order
// written (so that the page's example lists properties as the schema does):
// the inline mapping, or the file of {file: path}, relative to the config.
func schemaJSON(opts gatewayconfig.Options) (json.RawMessage, error) {
	n := gatewayconfig.OptionsNode(opts)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: schema: expected a mapping", opts.Pos())
	}
	if len(n.Content) == 2 && n.Content[0].Value == "file" {
		var err error
		if n, err = schemaFile(opts, n.Content[1].Value); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := writeJSON(&b, n, 0); err != nil {
		return nil, fmt.Errorf("%s: schema: %w", opts.Pos(), err)
	}
	return b.Bytes(), nil
}

func schemaFile(opts gatewayconfig.Options, path string) (*yaml.Node, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(opts.Dir(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: schema: %w", opts.Pos(), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil { // JSON is YAML too
		return nil, fmt.Errorf("%s: schema: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: schema: the file is empty", path)
	}
	return doc.Content[0], nil
}

// maxDepth bounds the nesting writeJSON follows, aliases included, so that
// a YAML alias cycle cannot recurse for ever.
const maxDepth = 64

// writeJSON writes n as JSON, mappings with their keys in the order written.
func writeJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("line %d: nested deeper than %d levels", n.Line, maxDepth)
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return writeJSON(b, n.Alias, depth+1)
	}
	switch n.Kind {
	case yaml.MappingNode:
		return writeObject(b, n, depth)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	return writeScalar(b, n)
}

func writeObject(b *bytes.Buffer, n *yaml.Node, depth int) error {
	b.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(n.Content[i].Value)
		b.Write(key)
		b.WriteByte(':')
		if err := writeJSON(b, n.Content[i+1], depth+1); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	b.Write(raw)
	return nil
}
