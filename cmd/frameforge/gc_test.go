package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcTarget reads the collector's target without changing it for long.
func gcTarget() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// waitTarget collects until the tuner (a finalizer, so asynchronous) has
// set a target that ok accepts.
func waitTarget(t *testing.T, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if p := gcTarget(); ok(p) || time.Now().After(deadline) {
			return p
		}
	}
}

func TestTuneGCFloorsTheHeadroomOfASmallHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := tuneGC()
	// A test binary's live heap is a few megabytes at most: +25 % would be
	// under 16 MB, so the target is raised.
	if p := waitTarget(t, func(p int) bool { return p > gcPercent }); p <= gcPercent {
		t.Fatalf("small heap: GC percent %d; want above %d", p, gcPercent)
	}
	// With 256 MB live, +25 % is far above 16 MB: back to gcPercent.
	big := make([]byte, 256<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	if p := waitTarget(t, func(p int) bool { return p == gcPercent }); p != gcPercent {
		t.Fatalf("256 MB live: GC percent %d; want %d", p, gcPercent)
	}
	runtime.KeepAlive(big)
	stop()
	big = nil
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := gcTarget(); p != gcPercent {
		t.Fatalf("after stop: GC percent %d; want %d", p, gcPercent)
	}
}
