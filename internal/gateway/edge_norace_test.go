//go:build !race

package gateway

// raceEnabled is set when the tests run under the race detector.
const raceEnabled = false
