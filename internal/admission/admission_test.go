package admission

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestQueueFillsAndDrains(t *testing.T) {
	g := New(2, 1, 200*time.Millisecond)
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
	for g.Waiting() != 1 {
		time.Sleep(time.Millisecond)
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
	g := New(1, 1, 50*time.Millisecond)
	a, _ := g.Admit()
	_ = a.Acquire(context.Background())
	b, _ := g.Admit()
	start := time.Now()
	if err := b.Acquire(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Acquire = %v; want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %s; want about 50ms", d)
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

func TestOnIdleRunsAfterTheLastEdit(t *testing.T) {
	g := New(2, 0, time.Second)
	fired := make(chan struct{}, 4)
	g.OnIdle(20*time.Millisecond, func() { fired <- struct{}{} })
	a, _ := g.Admit()
	b, _ := g.Admit()
	a.Release()
	select {
	case <-fired:
		t.Fatal("fired while an edit was still admitted")
	case <-time.After(60 * time.Millisecond):
	}
	b.Release()
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("did not fire after the gate went idle")
	}
	c, _ := g.Admit() // activity again: a pending idle call is cancelled
	c.Release()
	d, _ := g.Admit()
	select {
	case <-fired:
		t.Fatal("fired while busy")
	case <-time.After(60 * time.Millisecond):
	}
	d.Release()
}

func TestOnIdleHooksRunEachAfterItsOwnDelay(t *testing.T) {
	g := New(1, 0, time.Second)
	order := make(chan string, 4)
	g.OnIdle(150*time.Millisecond, func() { order <- "late" })
	g.OnIdle(10*time.Millisecond, func() { order <- "early" })
	a, _ := g.Admit()
	a.Release()
	for _, want := range []string{"early", "late"} {
		select {
		case got := <-order:
			if got != want {
				t.Fatalf("hook %q ran; want %q first", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("hook %q never ran", want)
		}
	}

	// A new edit before the late hook's delay cancels it; only the early
	// one runs again after this edit.
	b, _ := g.Admit()
	b.Release()
	if got := <-order; got != "early" {
		t.Fatalf("hook %q ran; want early", got)
	}
	c, _ := g.Admit()
	select {
	case got := <-order:
		t.Fatalf("hook %q ran while an edit was admitted", got)
	case <-time.After(300 * time.Millisecond):
	}
	c.Release()
}
