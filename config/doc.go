// Package config is what a guard or handler sees of gateway.yaml: its
// Options, decoded into the plugin's own struct with the same strict rules
// as the rest of the file (unknown keys refused with a hint, durations and
// sizes parsed, every error naming file:line:col), and the positioned
// errors a factory returns.
//
// The gateway's own schema (namespaces, server, limits) and the YAML
// machinery behind Options are internal: a plugin reads its options through
// Decode, Keys, At and PosAt, and never depends on how the file is parsed.
package config
