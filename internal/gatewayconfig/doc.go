// Package config is the gateway.yaml language: its schema as Go types, and a
// loader that decodes from yaml.v3 nodes so that every error names the file,
// line and column. It interpolates ${VAR} and ${VAR:-default} from the
// environment, refuses unknown keys with a "did you mean" hint, parses
// durations and sizes, applies defaults, validates, and reports all errors
// at once as an ErrorList.
//
// The package knows nothing of sockets: guard and handler options stay as
// Options (a node with its position) until the runtime hands them to the
// registered factory, which decodes them with Options.Decode. That decoder
// is the same strict one the loader uses; a plugin type that needs its own
// syntax implements Unmarshaler.
//
// docs/config.md is the reference of every key.
package gatewayconfig
