package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// minHeadroom is the least the heap may grow between two collections when
// run tunes the collector (GOGC unset).
const minHeadroom = 16 << 20

// tuneGC keeps the collector's target at gcPercent above the live heap, but
// never less than minHeadroom above it; it re-checks after every collection
// and returns a function that stops it, leaving the target at gcPercent.
//
// Why (docs/performance.md, "The fast path"): +25 % suits a heap of
// image bytes (a burst of edits peaks near the bytes in flight), but with
// no edit running the live heap is a few megabytes, so +25 % meant a
// collection every megabyte or so: under a flood of small requests
// (/api/health at 64 clients) the collector took about a seventh of the
// server's CPU in the profile. A floor of 16 MB makes those collections
// rare, and costs at most 16 MB over +25 % at any heap size.
//
// The runtime has no hook for "a collection ended" but finalizers: an
// object is armed with one, and each time a collection frees it, the
// finalizer adjusts the target and arms a new one.
func tuneGC() (stop func()) {
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	adjust := func() {
		metrics.Read(sample)
		pct := gcPercent
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if live := sample[0].Value.Uint64(); live > 0 {
				pct = max(pct, int(min(minHeadroom*100/live, 1000)))
			}
		}
		if pct != last {
			debug.SetGCPercent(pct)
			last = pct
		}
	}
	var arm func()
	arm = func() {
		s := new(sentinel)
		runtime.SetFinalizer(s, func(*sentinel) {
			if stopped.Load() {
				return
			}
			adjust()
			arm()
		})
	}
	adjust()
	arm()
	return func() {
		stopped.Store(true)
		debug.SetGCPercent(gcPercent)
	}
}

// sentinel is large enough to get an allocation of its own (finalizers on
// tiny allocations may never run).
type sentinel struct{ _ [32]byte }
