package guards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
)

func init() {
	// The options are a JSON Schema or {file: path}, compiled by the
	// factory itself: no options struct.
	defaultRegistry.RegisterSpec("schema", Spec{
		Doc: "Validates the payload against a JSON Schema (draft 2020-12) written inline or in a file; invalid_payload otherwise.",
		Refusals: []Refusal{
			{Code: "invalid_payload", When: "the payload does not match the schema"},
		},
	}, newSchemaGuard)
}

// schemaGuard checks the payload against a JSON Schema (draft 2020-12)
// compiled at load.
type schemaGuard struct {
	schema  *jsonschema.Schema
	printer *message.Printer
}

// newSchemaGuard compiles the options mapping as an inline schema, or the
// file named by {file: path}, relative to the config file's directory.
// $ref to other files resolves against the schema's directory; schemas are
// never fetched over the network.
func newSchemaGuard(opts config.Options) (Guard, error) {
	keys := opts.Keys()
	if keys == nil {
		return nil, opts.Errorf("schema: expected a JSON Schema as a mapping, or {file: path}")
	}
	dir, err := filepath.Abs(opts.Dir())
	if err != nil {
		return nil, opts.Errorf("schema: %v", err)
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.UseLoader(schemaFileLoader{})

	var location string
	if isSchemaFile(keys) {
		var o struct {
			File string `yaml:"file"`
		}
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		path := o.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, config.Errorf(optionPos(opts, "file"), "schema: %v", err)
		}
		location = fileURL(path)
	} else {
		doc, err := optionsToJSON(opts)
		if err != nil {
			return nil, opts.Errorf("schema: %v", err)
		}
		// The inline schema gets a URL in the config's directory, so that a
		// relative $ref finds files next to gateway.yaml.
		location = fileURL(filepath.Join(dir, fmt.Sprintf("gateway-schema-%d-%d.json", opts.Pos().Line, opts.Pos().Column)))
		if err := compiler.AddResource(location, doc); err != nil {
			return nil, opts.Errorf("schema: %v", err)
		}
	}
	g := &schemaGuard{printer: message.NewPrinter(language.English)}
	schema, err := compiler.Compile(location)
	if err != nil {
		return nil, g.compileError(opts, err)
	}
	g.schema = schema
	return g, nil
}

// compileError reports a schema that breaks the draft's rules at the
// keyword concerned, when the schema is written inline.
func (g *schemaGuard) compileError(opts config.Options, err error) error {
	var invalid *jsonschema.SchemaValidationError
	var cause *jsonschema.ValidationError
	if !errors.As(err, &invalid) || !errors.As(invalid.Err, &cause) {
		return opts.Errorf("schema: %s", oneLine(err.Error()))
	}
	leaf := firstLeaf(cause)
	pos := opts.Pos()
	if !isSchemaFile(opts.Keys()) {
		pos = opts.PosAt(leaf.InstanceLocation...)
	}
	return config.Errorf(pos, "schema: invalid schema at %s", g.describe(leaf))
}

// isSchemaFile reports whether the options name a schema file, {file: path},
// rather than being a schema.
func isSchemaFile(keys []string) bool { return len(keys) == 1 && keys[0] == "file" }

// MayBlock reports that the guard never waits (handlers.Blocking): it only validates.
func (g *schemaGuard) MayBlock() bool { return false }

// CheckOnArrival reports that the guard may decide when the event arrives
// (OnArrival): it validates the payload only.
func (g *schemaGuard) CheckOnArrival() bool { return true }

// Check validates the payload.
func (g *schemaGuard) Check(_ context.Context, in *Input) error {
	data, err := in.Payload.Data()
	if err != nil {
		return err
	}
	err = g.schema.Validate(data)
	if err == nil {
		return nil
	}
	var invalid *jsonschema.ValidationError
	if !errors.As(err, &invalid) {
		return gatehouse.Errorf(gatehouse.CodeInvalidPayload, "payload does not match the schema")
	}
	return gatehouse.Errorf(gatehouse.CodeInvalidPayload, "%s", g.describe(firstLeaf(invalid)))
}

// firstLeaf follows the first cause down to a concrete failure: the root
// error only says that validation failed.
func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	return e
}

// describe names the failing field and what is wrong with it, such as
// "/message: must be at most 2000 characters, got 2001".
func (g *schemaGuard) describe(e *jsonschema.ValidationError) string {
	location := e.InstanceLocation
	var what string
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		if len(k.Missing) == 1 {
			location = append(location[:len(location):len(location)], k.Missing[0])
			what = "is required"
		} else {
			what = "missing properties " + strings.Join(k.Missing, ", ")
		}
	case *kind.Type:
		what = fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.MinLength:
		what = fmt.Sprintf("must be at least %d characters, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		what = fmt.Sprintf("must be at most %d characters, got %d", k.Want, k.Got)
	case *kind.AdditionalProperties:
		what = "unexpected properties " + strings.Join(k.Properties, ", ")
	case *kind.FalseSchema:
		what = "is not allowed"
	default:
		what = e.ErrorKind.LocalizedString(g.printer)
	}
	return jsonPointer(location) + ": " + what
}

// jsonPointer renders an instance location; the payload itself is "/".
func jsonPointer(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// optionsToJSON converts the options into the value jsonschema expects, by
// way of JSON so that numbers come out as json.Number.
func optionsToJSON(opts config.Options) (any, error) {
	var v any
	if err := opts.Decode(&v); err != nil {
		return nil, err
	}
	return viaJSON(v)
}

func viaJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %v", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// schemaFileLoader loads schema files from disk, JSON or YAML by extension.
type schemaFileLoader struct{}

func (schemaFileLoader) Load(u string) (any, error) {
	path, err := jsonschema.FileLoader{}.ToFile(u)
	if err != nil {
		return nil, fmt.Errorf("schemas load from files only: %w", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		var v any
		if err := yaml.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return viaJSON(v)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
