package logging

import (
	"io"
	"sync"
	"time"
)

// maxPending bounds the bytes waiting to be written: past it, a Write waits
// for the writer goroutine (back-pressure), so a stalled stdout never grows
// memory without bound and no line is ever dropped.
const maxPending = 1 << 20

// Writer takes log lines off the request path: Write appends the line to a
// buffer and returns; one goroutine writes whatever has gathered in a single
// system call ("group commit"). At idle a line goes out within about a
// millisecond (linger); under load the lines of many requests share one
// wake-up and one write.
//
// Why (docs/performance.md, "The fast path"): with one write(2) per access
// line on the request's goroutine, the access log was the largest cost of
// GET /api/health (about half of the middleware's CPU in the profile), and
// every request serialised on the handler's lock around the system call.
// Hand-written because the maintained alternatives change what is logged or
// when: zap's BufferedWriteSyncer holds every line until a timer fires or a
// 256 KB buffer fills (seconds of delay when idle); zerolog's diode drops
// lines when its ring is full.
//
// Lines are written whole and in order. Flush or Close before the process
// exits; a crash loses at most the lines of the last millisecond or so.
type Writer struct {
	out io.Writer

	mu      sync.Mutex
	cond    sync.Cond // signalled when pending is taken or written, and on close
	pending []byte    // lines not yet handed to out
	spare   []byte    // the other buffer, reused
	busy    bool      // the goroutine is writing a batch
	closed  bool
	wake    chan struct{} // capacity 1: "there is something to write"
	done    chan struct{}
	err     error // the first write error, reported by Flush and Close
}

// NewWriter starts the goroutine that writes to out; Close stops it.
func NewWriter(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.cond.L = &w.mu
	go w.loop()
	return w
}

// Write queues p (one log record: slog hands each record to Write whole)
// and returns without waiting for out, unless maxPending bytes are already
// waiting. After Close it writes through.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.pending) >= maxPending && !w.closed {
		w.cond.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		<-w.done // the last batch goes out first: lines stay in order
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already on its way, and will see p
	}
	return len(p), nil
}

// linger is how long the writer goroutine lets lines gather after a
// wake-up before it writes them. Waking a parked goroutine costs more than
// writing a line (two trips through the scheduler and a futex); lingering,
// the requests of that millisecond share one wake-up and one write, and a
// line still reaches stdout within about a millisecond at idle
// (docs/performance.md, "The fast path").
const linger = time.Millisecond

func (w *Writer) loop() {
	defer close(w.done)
	for range w.wake {
		time.Sleep(linger)
		w.mu.Lock()
		for len(w.pending) > 0 {
			batch := w.pending
			w.pending, w.spare = w.spare[:0], nil
			w.busy = true
			w.mu.Unlock()
			_, err := w.out.Write(batch)
			w.mu.Lock()
			if err != nil && w.err == nil {
				w.err = err
			}
			if cap(batch) <= maxPending {
				w.spare = batch[:0] // a buffer grown past the bound is let go
			}
			w.busy = false
			w.cond.Broadcast()
		}
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return
		}
	}
}

// Flush waits until every line written so far has been handed to out, and
// reports the first error out returned.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.pending) > 0 || w.busy) && !w.loopGone() {
		w.cond.Wait()
	}
	return w.err
}

// loopGone reports whether the goroutine has ended (only after Close).
func (w *Writer) loopGone() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// Close writes what is pending, stops the goroutine, and makes later Writes
// go straight to out (a line logged during the last moments of shutdown is
// not lost).
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
