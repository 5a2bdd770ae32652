package config

import (
	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// Options are the options of one guard or handler as written in
// gateway.yaml, with their position. The factory registered for the type
// decodes them into its own struct with Decode; Keys, At and PosAt read
// options whose shape depends on what is written.
type Options = gatewayconfig.Options

// Pos is a position in a config file.
type Pos = gatewayconfig.Pos

// Error is a config error at a position.
type Error = gatewayconfig.Error

// ErrorList is several config errors, reported together.
type ErrorList = gatewayconfig.ErrorList

// Duration is a duration written as "25s", "5m" or "1h30m".
type Duration = gatewayconfig.Duration

// Size is a byte count written as "1MB", "512KB", "100B" or a plain
// integer; units are powers of 1024.
type Size = gatewayconfig.Size

// ScalarUnmarshaler is implemented by option types written as one scalar
// that parse themselves: the decoder calls UnmarshalScalar with the scalar
// (environment variables interpolated) and its position.
type ScalarUnmarshaler = gatewayconfig.ScalarUnmarshaler

// Units of Size.
const (
	Byte     = gatewayconfig.Byte
	Kilobyte = gatewayconfig.Kilobyte
	Megabyte = gatewayconfig.Megabyte
	Gigabyte = gatewayconfig.Gigabyte
	Terabyte = gatewayconfig.Terabyte
)

// Errorf returns an error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return gatewayconfig.Errorf(pos, format, args...)
}

// ParseDuration parses a duration as written in gateway.yaml.
func ParseDuration(s string) (Duration, error) { return gatewayconfig.ParseDuration(s) }

// ParseSize parses a size as written in gateway.yaml.
func ParseSize(s string) (Size, error) { return gatewayconfig.ParseSize(s) }

// Suggest returns a " (did you mean x?)" hint naming the candidate closest
// to name, or "" when none is close.
func Suggest(name string, candidates []string) string {
	return gatewayconfig.Suggest(name, candidates)
}
