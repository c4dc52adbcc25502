package admission

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestQueueFillsAndDrains(t *testing.T) {
	clk := newFakeClock()
	g := newWithClock(2, 1, 200*time.Millisecond, clk)
	ctx := context.Background()
	var running []*Ticket
	for range 2 {
		tk, err := g.Admit()
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		running = append(running, tk)
	}
	waiter, err := g.Admit()
	if err != nil {
		t.Fatalf("third edit refused a queue place: %v", err)
	}
	if _, err := g.Admit(); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth Admit = %v; want ErrFull (2 running + 1 queued)", err)
	}
	got := make(chan error, 1)
	go func() { got <- waiter.Acquire(ctx) }()
	<-clk.armed // the waiter is waiting
	if g.Waiting() != 1 {
		t.Fatalf("waiting %d; want 1", g.Waiting())
	}
	running[0].Release()
	if err := <-got; err != nil {
		t.Fatalf("queued edit did not get the freed slot: %v", err)
	}
	if g.Running() != 2 || g.Waiting() != 0 {
		t.Errorf("running %d waiting %d; want 2, 0", g.Running(), g.Waiting())
	}
	waiter.Release()
	running[1].Release()
	if g.Running() != 0 {
		t.Errorf("running %d after all released", g.Running())
	}
	for range 3 { // every place is free again
		tk, err := g.Admit()
		if err != nil {
			t.Fatalf("place not freed: %v", err)
		}
		defer tk.Release()
	}
}

func TestWaitIsBounded(t *testing.T) {
	clk := newFakeClock()
	g := newWithClock(1, 1, 50*time.Millisecond, clk)
	a, _ := g.Admit()
	_ = a.Acquire(context.Background())
	b, _ := g.Admit()
	got := make(chan error, 1)
	go func() { got <- b.Acquire(context.Background()) }()
	if d := <-clk.armed; d != 50*time.Millisecond {
		t.Fatalf("wait timer armed for %s; want the gate's 50ms", d)
	}
	clk.Advance(49 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("Acquire returned %v before its wait was over", err)
	default:
	}
	clk.Advance(time.Millisecond)
	if err := <-got; !errors.Is(err, ErrTimeout) {
		t.Fatalf("Acquire = %v; want ErrTimeout", err)
	}
	if g.Waiting() != 0 {
		t.Errorf("waiting %d after the timeout; want 0", g.Waiting())
	}
	b.Release()
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := g.Admit()
	cancel()
	if err := c.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a gone client = %v; want context.Canceled", err)
	}
	c.Release()
	a.Release()
}

// fired reports whether the hook has run since the last call. The fake
// clock runs due hooks inside Advance, so a non-blocking look is exact.
func fired(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestOnIdleRunsAfterTheLastEdit(t *testing.T) {
	clk := newFakeClock()
	g := newWithClock(2, 0, time.Second, clk)
	hook := make(chan struct{}, 4)
	g.OnIdle(20*time.Millisecond, func() { hook <- struct{}{} })
	a, _ := g.Admit()
	b, _ := g.Admit()
	a.Release()
	clk.Advance(time.Hour)
	if fired(hook) {
		t.Fatal("fired while an edit was still admitted")
	}
	b.Release()
	clk.Advance(19 * time.Millisecond)
	if fired(hook) {
		t.Fatal("fired before its delay")
	}
	clk.Advance(time.Millisecond)
	if !fired(hook) {
		t.Fatal("did not fire once the gate had been idle for its delay")
	}
	clk.Advance(time.Hour)
	if fired(hook) {
		t.Fatal("fired twice for one idle period")
	}

	c, _ := g.Admit()
	c.Release()
	clk.Advance(10 * time.Millisecond)
	d, _ := g.Admit() // activity again: the pending idle call is cancelled
	clk.Advance(time.Hour)
	if fired(hook) {
		t.Fatal("fired while busy")
	}
	d.Release()
	clk.Advance(20 * time.Millisecond)
	if !fired(hook) {
		t.Fatal("did not fire after the next idle period")
	}
}

func TestOnIdleHooksRunEachAfterItsOwnDelay(t *testing.T) {
	clk := newFakeClock()
	g := newWithClock(1, 0, time.Second, clk)
	order := make(chan string, 4)
	g.OnIdle(150*time.Millisecond, func() { order <- "late" })
	g.OnIdle(10*time.Millisecond, func() { order <- "early" })
	next := func() string {
		select {
		case s := <-order:
			return s
		default:
			return "none"
		}
	}
	a, _ := g.Admit()
	a.Release()
	clk.Advance(10 * time.Millisecond)
	if got := next(); got != "early" {
		t.Fatalf("after 10ms ran %q; want early", got)
	}
	clk.Advance(140 * time.Millisecond)
	if got := next(); got != "late" {
		t.Fatalf("after 150ms ran %q; want late", got)
	}

	// A new edit before the late hook's delay cancels it; only the early
	// one runs again after this edit.
	b, _ := g.Admit()
	b.Release()
	clk.Advance(10 * time.Millisecond)
	if got := next(); got != "early" {
		t.Fatalf("hook %q ran; want early", got)
	}
	c, _ := g.Admit()
	clk.Advance(time.Hour)
	if got := next(); got != "none" {
		t.Fatalf("hook %q ran while an edit was admitted", got)
	}
	c.Release()
	clk.Advance(150 * time.Millisecond)
	if got, got2 := next(), next(); got != "early" || got2 != "late" {
		t.Fatalf("after the last edit ran %q then %q; want early then late", got, got2)
	}
}

// TestNewUsesTheWallClock keeps the production clock honest: its timers are
// the time package's, so one real idle period must fire a hook.
func TestNewUsesTheWallClock(t *testing.T) {
	g := New(1, 0, time.Second)
	hook := make(chan struct{})
	g.OnIdle(time.Millisecond, func() { close(hook) })
	a, _ := g.Admit()
	a.Release()
	<-hook // no timing window: the test fails by timing out if it never fires
}
