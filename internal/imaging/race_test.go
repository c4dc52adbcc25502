//go:build race

package imaging

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = true
