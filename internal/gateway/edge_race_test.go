//go:build race

package gateway

// raceEnabled is set when the tests run under the race detector, which
// slows the session's reads tenfold and more.
const raceEnabled = true
