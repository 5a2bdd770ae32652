package gatewayconfig

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "25s", "1m30s" or "500ms". Negative
// durations are refused; a plain 0 is accepted.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the duration as time.Duration writes it ("25s", "1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration parses a duration as written in the config: a Go duration
// ("25s", "1m30s", "500ms") or a plain 0. Negative durations are refused.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return 0, fmt.Errorf("expected a duration such as 25s, got %q: add a unit (ms, s, m, h)", s)
		}
		return 0, fmt.Errorf("expected a duration such as 25s, got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("a duration cannot be negative, got %q", s)
	}
	return Duration(d), nil
}

// unmarshalNode decodes a duration scalar.
func (d *Duration) unmarshalNode(n *yaml.Node, file string) error {
	if isNull(n) {
		*d = 0
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return Errorf(nodePos(file, n), "expected a duration such as 25s, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return Errorf(nodePos(file, n), "%v", err)
	}
	*d = v
	return nil
}

// Size is a byte count written as "1MB", "512KB", "100B" or a plain integer.
// Units are powers of 1024 (KB, MB, GB, TB; KiB, MiB, GiB, TiB are accepted
// too, as are K, M, G, T). Negative sizes are refused.
type Size int64

// Common sizes, as the config language counts them.
const (
	Byte     Size = 1
	Kilobyte      = 1024 * Byte
	Megabyte      = 1024 * Kilobyte
	Gigabyte      = 1024 * Megabyte
	Terabyte      = 1024 * Gigabyte
)

var sizeUnits = map[string]Size{
	"": Byte, "b": Byte,
	"k": Kilobyte, "kb": Kilobyte, "kib": Kilobyte,
	"m": Megabyte, "mb": Megabyte, "mib": Megabyte,
	"g": Gigabyte, "gb": Gigabyte, "gib": Gigabyte,
	"t": Terabyte, "tb": Terabyte, "tib": Terabyte,
}

// ParseSize parses a size as written in the config: a non-negative integer
// followed by an optional unit ("1MB", "512 KB", "100B", "1MiB", "4096").
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	digits := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '_' })
	if digits == -1 {
		digits = len(s)
	}
	numPart, unitPart := s[:digits], strings.TrimSpace(s[digits:])
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("a size cannot be negative, got %q", s)
	}
	unit, ok := sizeUnits[strings.ToLower(unitPart)]
	if numPart == "" || !ok {
		return 0, fmt.Errorf("expected a size such as 1MB, 512KB or 100B, got %q", s)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(numPart, "_", ""), 10, 64)
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(n) * unit, nil
}

// unmarshalNode decodes a size scalar.
func (sz *Size) unmarshalNode(n *yaml.Node, file string) error {
	if isNull(n) {
		*sz = 0
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return Errorf(nodePos(file, n), "expected a size such as 1MB, got %s", describe(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return Errorf(nodePos(file, n), "%v", err)
	}
	*sz = v
	return nil
}

// String returns the size with the largest unit that divides it exactly
// ("1MB", "1536KB", "100B"), the way it would be written in the config.
func (sz Size) String() string {
	for _, u := range []struct {
		name string
		size Size
	}{{"TB", Terabyte}, {"GB", Gigabyte}, {"MB", Megabyte}, {"KB", Kilobyte}} {
		if sz != 0 && sz%u.size == 0 {
			return strconv.FormatInt(int64(sz/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(sz), 10) + "B"
}

var errNotPointer = errors.New("config: Decode needs a non-nil pointer")
