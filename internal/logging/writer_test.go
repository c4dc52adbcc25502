package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe to read while the writer goroutine writes.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestWriterKeepsEveryLineWholeAndInOrder(t *testing.T) {
	var out syncBuffer
	w := NewWriter(&out)
	log := New(w, "json", slog.LevelInfo)
	const goroutines, lines = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				log.Info("request", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != goroutines*lines {
		t.Fatalf("%d lines written; want %d", len(got), goroutines*lines)
	}
	next := make([]int, goroutines) // per goroutine, lines must come in the order logged
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l[strings.Index(l, `"g":`):], `"g":%d,"i":%d}`, &g, &i); err != nil {
			t.Fatalf("line %q is not whole: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d came after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if out.writes >= goroutines*lines {
		t.Logf("no batching happened (%d writes); allowed, but unexpected under contention", out.writes)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterCloseWritesPendingAndThenWritesThrough(t *testing.T) {
	var out syncBuffer
	w := NewWriter(&out)
	fmt.Fprintln(w, "before close")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "before close\n" {
		t.Fatalf("after Close: %q", got)
	}
	fmt.Fprintln(w, "after close") // a line logged during the last moments is not lost
	if got := out.String(); got != "before close\nafter close\n" {
		t.Fatalf("write after Close: %q", got)
	}
	if err := w.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterReportsTheWriteError(t *testing.T) {
	w := NewWriter(failing{})
	fmt.Fprintln(w, "x")
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush = %v; want the output's error", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write = nil")
	}
}

// blocked is an output that accepts nothing until released.
type blocked struct {
	release chan struct{}
	syncBuffer
}

func (b *blocked) Write(p []byte) (int, error) { <-b.release; return b.syncBuffer.Write(p) }

func TestWriterBoundsWhatIsPending(t *testing.T) {
	out := &blocked{release: make(chan struct{})}
	w := NewWriter(out)
	line := bytes.Repeat([]byte("x"), 64<<10)
	done := make(chan int)
	go func() {
		n := 0
		for range 3 * maxPending / len(line) {
			w.Write(line)
			n++
		}
		done <- n
	}()
	// The output is stuck, so the writer must stop accepting at about
	// maxPending (plus the batch being written) rather than grow.
	time.Sleep(300 * time.Millisecond) // ample time to accept them all, were there no bound
	select {
	case n := <-done:
		t.Fatalf("%d lines (%d bytes) accepted while the output was stuck", n, n*len(line))
	default:
	}
	close(out.release)
	n := <-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(out.String()); got != n*len(line) {
		t.Fatalf("%d bytes written; want %d", got, n*len(line))
	}
}
