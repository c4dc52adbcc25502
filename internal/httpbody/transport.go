package httpbody

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// TooLargeError is what a body read through Transport returns once the
// body passes its limit. It matches ErrTooLarge with errors.Is, and keeps
// the answer's status: an oversized error body is still an error answer.
type TooLargeError struct {
	Status int   // HTTP status of the answer
	Limit  int64 // the limit that was passed
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("HTTP %d: %v (%d bytes)", e.Status, ErrTooLarge, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Transport bounds every answer body, whoever reads it. Provider SDKs read
// bodies themselves (the Gemini SDK reads an error body with io.ReadAll),
// and Go's transport inflates gzip answers transparently, so a cap in our
// own reading code is not enough: an endless or compressed-bomb body would
// be read into memory in full. Below the SDK, every body is counted as it is
// read (after decompression) and fails with *TooLargeError past its limit;
// and it is closed when the request's context ends, so a body that trickles
// forever cannot hold a call past its deadline.
type Transport struct {
	Base http.RoundTripper
	// MaxBody bounds a 2xx answer; MaxErrorBody any other. Error bodies are
	// a few hundred bytes of JSON (an HTML page from a proxy at most), so
	// their limit can be far smaller than an answer carrying an image.
	MaxBody, MaxErrorBody int64
}

// RoundTrip sends req through Base and bounds the answer's body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(req)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	limit := t.MaxErrorBody
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		limit = t.MaxBody
	}
	resp.Body = newBoundedBody(req.Context(), resp.Body, resp.StatusCode, resp.ContentLength, limit)
	return resp, nil
}

// boundedBody is a response body cut off past its limit and when its
// request's context ends.
type boundedBody struct {
	ctx    context.Context
	body   io.ReadCloser
	status int
	limit  int64
	left   int64 // bytes that may still be read; -1 once over the limit
	stop   func() bool
	once   sync.Once
}

func newBoundedBody(ctx context.Context, body io.ReadCloser, status int, declared, limit int64) *boundedBody {
	b := &boundedBody{ctx: ctx, body: body, status: status, limit: limit, left: limit}
	if declared > limit {
		b.left = -1 // fail on the first Read, before anything is transferred
	}
	// Closing unblocks a Read waiting on the network; net/http's own
	// transport does the same, but not every RoundTripper an operator
	// plugs in does.
	b.stop = context.AfterFunc(ctx, func() { body.Close() })
	return b
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.left < 0 {
		return 0, &TooLargeError{Status: b.status, Limit: b.limit}
	}
	// Ask for one byte more than allowed, to tell "exactly at the limit"
	// from "over it" without reading further.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.body.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, &TooLargeError{Status: b.status, Limit: b.limit}
	}
	b.left -= int64(n)
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		// The body was closed under the Read because ctx ended.
		return n, b.ctx.Err()
	}
	return n, err
}

// Close closes the body and lets go of the context.
func (b *boundedBody) Close() error {
	var err error
	b.once.Do(func() {
		b.stop()
		err = b.body.Close()
	})
	return err
}
