package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/explain"
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
	"github.com/gatehouse-dev/gatehouse/internal/shape"
)

// Version is the AsyncAPI version of the documents written.
const Version = "3.0.0"

// claimsKey names the schema of the token's claims under components/schemas.
const claimsKey = "Claims"

// document is an AsyncAPI document, its fields in the order written.
type document struct {
	AsyncAPI           string `json:"asyncapi"`
	Info               object `json:"info"`
	Servers            object `json:"servers"`
	DefaultContentType string `json:"defaultContentType"`
	Channels           object `json:"channels"`
	Operations         object `json:"operations"`
	Components         object `json:"components"`
}

// Generate returns the AsyncAPI document of cfg as indented JSON. report is
// what `gatehouse explain` tells of the same config (explain.Explain), from
// which the error codes and the token's places come; version is the
// gateway's version, written as the document's info.version.
func Generate(cfg *gatewayconfig.Config, report *explain.Report, version string) ([]byte, error) {
	b := &builder{
		cfg: cfg, report: report,
		guards:      map[string]*guardSchema{},
		schemas:     object{claimsKey: claimsSchema()},
		channels:    object{},
		operations:  object{},
		channelKeys: keys{}, operationKeys: keys{}, schemaKeys: keys{claimsKey: true},
	}
	security := b.securitySchemes()
	for _, ns := range cfg.Namespaces {
		if err := b.namespace(ns, explained(report, ns.Name)); err != nil {
			return nil, err
		}
	}
	components := object{"schemas": b.schemas}
	if len(security) > 0 {
		components["securitySchemes"] = security
	}
	doc := document{
		AsyncAPI:           Version,
		Info:               b.info(version),
		Servers:            object{"gateway": b.server()},
		DefaultContentType: "application/json",
		Channels:           b.channels,
		Operations:         b.operations,
		Components:         components,
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	return out.Bytes(), nil
}

// builder collects the parts of the document as the namespaces are met.
type builder struct {
	cfg    *gatewayconfig.Config
	report *explain.Report
	// guards are the schema guards' schemas met so far, by guard name.
	guards     map[string]*guardSchema
	schemas    object
	channels   object
	operations object
	// security are the references to the security schemes, for the
	// operations of a namespace where a token is required.
	security []any

	channelKeys, operationKeys, schemaKeys keys
}

func (b *builder) info(version string) object {
	return object{
		"title":   fmt.Sprintf("Gatehouse gateway (%s)", filepath.Base(b.cfg.File)),
		"version": version,
		"description": "The Socket.IO v5 events of the gateway declared in " + filepath.Base(b.cfg.File) +
			", for the official socket.io-client. Each channel is a namespace (io(url + address)) or the rooms of one; " +
			"each message is one Socket.IO event, named by its name, whose payload is the event's first argument. " +
			"The reply of an operation is the event's acknowledgement: the handler's answer, or " +
			"{error: {code, message}} with a code of contract C2; a refused event sent without an ack is answered " +
			"with the exception event instead. Payload schemas are those of the schema guards, JSON Schema draft " +
			"2020-12 as the gateway checks them.",
	}
}

// server is the gateway's listener as a client reaches it.
func (b *builder) server() object {
	s := b.cfg.Server
	protocol := "ws"
	if s.TLS != nil {
		protocol = "wss"
	}
	return object{
		"host":     clientHost(s.Listen),
		"protocol": protocol,
		"pathname": s.Path,
		"title":    "Engine.IO endpoint",
		"description": "Engine.IO v4 (WebSocket, or HTTP long-polling upgraded to WebSocket, as " +
			"socket.io-client does) carrying Socket.IO v5. Transports: " + strings.Join(s.Transports, ", ") + ".",
	}
}

// clientHost is the host:port a client on the same machine dials for a
// listen address: a listener on every interface is reached as localhost.
func clientHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// claimsSchema is the schema of the token's claims: sub is the user id,
// the others are whatever the issuer put there.
func claimsSchema() object {
	return object{
		"type":                 "object",
		"description":          "The claims of the socket's verified token: sub is the user id; other claims are kept as the issuer wrote them.",
		"properties":           object{"sub": object{"type": "string"}},
		"additionalProperties": true,
	}
}

// keys hands out the keys of one map of the document: names made of the
// characters AsyncAPI allows in component keys, each once.
type keys map[string]bool

var keyUnsafe = regexp.MustCompile(`[^\w.\-]+`)

// unique is name made safe as a key and not yet taken.
func (k keys) unique(name string) string {
	base := strings.Trim(keyUnsafe.ReplaceAllString(name, "_"), "_")
	if base == "" {
		base = "main"
	}
	key := base
	for i := 2; k[key]; i++ {
		key = fmt.Sprintf("%s_%d", base, i)
	}
	k[key] = true
	return key
}

// payloadOf is the payload of ev from its schema guards, nil without any.
func (b *builder) payloadOf(ev gatewayconfig.Event) (payload, error) {
	var p payload
	for _, ref := range ev.Guards {
		s, err := b.guardSchema(ref.Name)
		if err != nil {
			return nil, err
		}
		if s != nil {
			p = append(p, s)
		}
	}
	return p, nil
}

// guardSchema adds, once, the schema of the schema guard called name to
// the components, or returns nil when name is not a schema guard.
func (b *builder) guardSchema(name string) (*guardSchema, error) {
	if s, ok := b.guards[name]; ok {
		return s, nil
	}
	root, err := shape.GuardSchema(b.cfg, name)
	if err != nil || root == nil {
		return nil, err
	}
	s := &guardSchema{key: b.schemaKeys.unique(name), root: root}
	b.guards[name] = s
	b.schemas[s.key] = rebase(root, s.ref())
	return s, nil
}
