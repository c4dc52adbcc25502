package admission

import (
	"sync"
	"time"
)

// fakeClock is a clock that moves only when a test advances it. Timers that
// fall due fire inside Advance, AfterFunc callbacks included, so once
// Advance returns every hook that was due has run and none other has.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
	// armed receives each NewTimer's duration: a waiter in Acquire is
	// waiting once its timer is armed.
	armed chan time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{armed: make(chan time.Duration, 16)} }

type fakeTimer struct {
	c       *fakeClock
	when    time.Duration
	pending bool
	f       func()         // AfterFunc
	ch      chan time.Time // NewTimer
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now + d, pending: true, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	t := &fakeTimer{c: c, when: c.now + d, pending: true, ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.armed <- d
	return t.ch, t.Stop
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.pending = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.pending, t.when = true, t.c.now+d
	return was
}

// Advance moves the clock on by d, firing each timer that falls due in the
// order they fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now + d
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if t.pending && t.when <= end && (next == nil || t.when < next.when) {
				next = t
			}
		}
		if next == nil {
			break
		}
		c.now, next.pending = next.when, false
		c.mu.Unlock() // the callback may call back into the gate
		if next.f != nil {
			next.f()
		} else {
			next.ch <- time.Time{}
		}
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}
