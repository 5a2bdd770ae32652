package config

import "time"

// Duration is a time.Duration written as "25s", "1m30s" or "500ms". Negative
// durations are refused.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as "1MB", "512KB", "100B" or a plain integer.
// Units are powers of 1024 (KB, MB, GB; KiB, MiB, GiB are accepted too).
type Size int64
