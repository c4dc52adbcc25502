// Package admission bounds the edits a server works on: at most N talk to
// providers at once, at most Q more wait, and nobody waits forever. It is
// what keeps memory bounded however many clients arrive (imgproxy's
// concurrency limit and request queue, in a few lines of channels).
package admission

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is returned when every running and waiting place is taken.
var ErrFull = errors.New("admission: queue full")

// ErrTimeout is returned when no slot freed up within the queue timeout.
var ErrTimeout = errors.New("admission: waited too long for a slot")

// Gate admits edits. It is safe for concurrent use.
type Gate struct {
	places  chan struct{} // running + waiting: concurrency + queue
	slots   chan struct{} // running: concurrency
	wait    time.Duration
	clock   clock
	running atomic.Int64
	waiting atomic.Int64

	idleMu sync.Mutex
	idle   []idleHook
}

// idleHook is one OnIdle registration.
type idleHook struct {
	after time.Duration
	f     func()
	timer stopper // nil until the gate first goes idle
}

// clock makes the gate's timers. Production uses the time package; tests
// use a clock they advance by hand, so no test waits on the wall clock.
type clock interface {
	// AfterFunc runs f once d has passed, like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) stopper
	// NewTimer returns a channel that receives once d has passed, and a
	// function that stops it, like time.NewTimer's C and Stop.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// stopper is what the gate needs of a *time.Timer made by AfterFunc.
type stopper interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// realClock is the time package.
type realClock struct{}

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// OnIdle arranges for f to run once whenever the gate has been empty for d
// after being busy (f runs on its own goroutine; no goroutine waits while
// nothing happens). Several hooks may be registered, each with its own d.
// The server uses them to free and give back memory after a burst of edits.
func (g *Gate) OnIdle(d time.Duration, f func()) {
	g.idleMu.Lock()
	defer g.idleMu.Unlock()
	g.idle = append(g.idle, idleHook{after: d, f: f})
}

// New returns a gate for concurrency running edits, queue waiting ones, and
// a longest wait for a slot.
func New(concurrency, queue int, wait time.Duration) *Gate {
	return newWithClock(concurrency, queue, wait, realClock{})
}

func newWithClock(concurrency, queue int, wait time.Duration, c clock) *Gate {
	return &Gate{
		places: make(chan struct{}, concurrency+queue),
		slots:  make(chan struct{}, concurrency),
		wait:   wait,
		clock:  c,
	}
}

// Ticket is one admitted edit. Release it exactly once.
type Ticket struct {
	g       *Gate
	running bool
}

// Admit takes a place without blocking, or returns ErrFull. Admission comes
// before the upload is read, so the bytes held in memory are bounded by the
// number of places.
func (g *Gate) Admit() (*Ticket, error) {
	select {
	case g.places <- struct{}{}:
		g.idleMu.Lock()
		for _, h := range g.idle {
			if h.timer != nil {
				h.timer.Stop()
			}
		}
		g.idleMu.Unlock()
		return &Ticket{g: g}, nil
	default:
		return nil, ErrFull
	}
}

// Acquire waits for a running slot, at most the gate's wait. It returns
// ErrTimeout when none freed up, or ctx's error when ctx ended first.
func (t *Ticket) Acquire(ctx context.Context) error {
	g := t.g
	select {
	case g.slots <- struct{}{}:
	default:
		g.waiting.Add(1)
		defer g.waiting.Add(-1)
		expired, stop := g.clock.NewTimer(g.wait)
		defer stop()
		select {
		case g.slots <- struct{}{}:
		case <-expired:
			return ErrTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t.running = true
	g.running.Add(1)
	return nil
}

// Release frees the ticket's slot and place.
func (t *Ticket) Release() {
	if t.running {
		t.g.running.Add(-1)
		<-t.g.slots
		t.running = false
	}
	<-t.g.places
	g := t.g
	g.idleMu.Lock()
	defer g.idleMu.Unlock()
	if len(g.places) != 0 {
		return
	}
	for i := range g.idle {
		h := &g.idle[i]
		if h.timer == nil {
			h.timer = g.clock.AfterFunc(h.after, h.f)
		} else {
			h.timer.Reset(h.after)
		}
	}
}

// Running is the number of edits holding a slot.
func (g *Gate) Running() int { return int(g.running.Load()) }

// Waiting is the number of edits waiting for a slot.
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }

// RetryAfter is a hint for refused clients: about one queue wait.
func (g *Gate) RetryAfter() time.Duration { return max(time.Second, g.wait/2) }
