package server

import (
	"errors"
	"io"
)

var errPartTooLarge = errors.New("part exceeds its limit")

// arena holds the uploaded files of one request in as few allocations as
// possible. When the client sends Content-Length (browsers always do), one
// buffer of that size receives every file and each image is a sub-slice of
// it: no growth copies, no second buffer of the upload.
type arena struct {
	buf []byte
}

func newArena(contentLength, limit int64) *arena {
	if contentLength <= 0 {
		return &arena{}
	}
	return &arena{buf: make([]byte, 0, min(contentLength, limit))}
}

// read copies r into the arena up to limit bytes and returns the part's bytes.
// It returns errPartTooLarge when r holds more than limit bytes.
func (a *arena) read(r io.Reader, limit int64) ([]byte, error) {
	start := len(a.buf)
	for {
		if len(a.buf) == cap(a.buf) {
			// Out of room (no Content-Length, or it lied): move only this part
			// to a bigger buffer; earlier parts keep their slices of the old one.
			cur := a.buf[start:]
			nb := make([]byte, len(cur), max(2*len(cur), 256<<10))
			copy(nb, cur)
			a.buf, start = nb, 0
		}
		n, err := r.Read(a.buf[len(a.buf):cap(a.buf)])
		a.buf = a.buf[:len(a.buf)+n]
		if int64(len(a.buf)-start) > limit {
			a.buf = a.buf[:start]
			return nil, errPartTooLarge
		}
		if err == io.EOF {
			end := len(a.buf)
			return a.buf[start:end:end], nil
		}
		if err != nil {
			return nil, err
		}
	}
}
