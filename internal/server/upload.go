package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/dustin/go-humanize"
)

// errUploadTooSlow is a body read that stopped because the client sent less
// than the minimum rate (it wraps os.ErrDeadlineExceeded, what the
// connection reported).
type errUploadTooSlow struct {
	rate  int64
	grace time.Duration
	err   error
}

func (e *errUploadTooSlow) Error() string {
	return fmt.Sprintf("upload slower than %s/s after %s: %v", humanize.IBytes(uint64(e.rate)), e.grace, e.err)
}

func (e *errUploadTooSlow) Unwrap() error { return e.err }

// minRateBody makes an upload keep a minimum average rate once a grace
// period has passed: by time t the client must have sent rate × (t − start −
// grace) bytes. A client that trickles a byte every few seconds would
// otherwise hold an admission place (and its upload buffer) until
// READ_TIMEOUT, and a few dozen of them would refuse every normal edit.
// It works through the connection's read deadline, so a read blocked on a
// silent client ends at the right moment too; the deadline never passes the
// one READ_TIMEOUT set (limit), which stays the bound of the whole upload.
type minRateBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     int64 // bytes per second
	limit    time.Time
	now      func() time.Time
	read     int64
	deadline time.Time // the read deadline set last; zero before the first
	done     bool      // the body ended (or failed): the deadline is no longer ours to move
}

// withMinRate wraps r.Body; rate <= 0 turns the check off, and so does a
// connection whose deadline cannot be set (a test recorder).
func withMinRate(w http.ResponseWriter, r *http.Request, rate int64, grace, readTimeout time.Duration) {
	if rate <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	start := time.Now()
	b := &minRateBody{body: r.Body, rc: http.NewResponseController(w), start: start, grace: grace,
		rate: rate, now: time.Now}
	if readTimeout > 0 {
		b.limit = start.Add(readTimeout)
	}
	if err := b.extend(); err != nil {
		return // not supported here: READ_TIMEOUT alone bounds the upload
	}
	r.Body = b
}

// extend moves the read deadline to when the next byte is due. It moves the
// deadline only when it changes by 50 ms or more: a large upload calls Read
// thousands of times.
func (b *minRateBody) extend() error {
	due := b.start.Add(b.grace + time.Duration(float64(b.read+1)/float64(b.rate)*float64(time.Second)))
	if !b.limit.IsZero() && due.After(b.limit) {
		due = b.limit
	}
	if !b.deadline.IsZero() && due.Sub(b.deadline) < 50*time.Millisecond {
		return nil
	}
	if err := b.rc.SetReadDeadline(due); err != nil {
		return err
	}
	b.deadline = due
	return nil
}

func (b *minRateBody) Read(p []byte) (int, error) {
	if b.done {
		// Once the body has ended net/http reads the connection in the
		// background to notice a client leaving, with no deadline; one set
		// now would end that read and cancel the request.
		return b.body.Read(p)
	}
	if err := b.extend(); err != nil {
		return 0, err
	}
	n, err := b.body.Read(p)
	b.read += int64(n)
	b.done = err != nil
	if errors.Is(err, os.ErrDeadlineExceeded) && (b.limit.IsZero() || b.deadline.Before(b.limit)) {
		err = &errUploadTooSlow{rate: b.rate, grace: b.grace, err: err}
	}
	return n, err
}

func (b *minRateBody) Close() error { return b.body.Close() }
