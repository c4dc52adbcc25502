// Package httpbody reads whole HTTP bodies of bounded size with few copies.
// Provider answers are megabytes; io.ReadAll grows its buffer about a
// quarter at a time, which leaves several times the body behind as garbage
// at the moment a burst of answers arrives.
package httpbody

import (
	"bytes"
	"errors"
	"io"
)

// ErrTooLarge is returned for a body over its limit.
var ErrTooLarge = errors.New("body larger than its limit")

// firstChunk is the starting buffer for a body of unknown length.
const firstChunk = 64 << 10

// Read reads all of r, at most limit bytes. contentLength is the declared
// length (-1 when unknown): a declared body is read into one buffer of that
// size, and one declared over limit fails before anything is read. A body
// of unknown length is read into a buffer that doubles as it fills.
func Read(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength > limit {
		return nil, ErrTooLarge
	}
	if contentLength >= 0 {
		buf := make([]byte, contentLength)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	var b bytes.Buffer
	b.Grow(int(min(limit+1, firstChunk)))
	if _, err := b.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(b.Len()) > limit {
		return nil, ErrTooLarge
	}
	return b.Bytes(), nil
}
