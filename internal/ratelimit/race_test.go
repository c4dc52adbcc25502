//go:build race

package ratelimit

// raceEnabled shrinks the loops that the race detector would slow tenfold.
const raceEnabled = true
