package httpbody

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	body := strings.Repeat("x", 100)
	big := strings.Repeat("y", 3*firstChunk+7)
	cases := []struct {
		name          string
		body          string
		contentLength int64
		limit         int64
		err           error
	}{
		{"declared length", body, 100, 100, nil},
		{"unknown length", body, -1, 100, nil},
		{"unknown length, several buffers", big, -1, int64(len(big)), nil},
		{"empty", "", 0, 10, nil},
		{"declared over the limit, nothing read", body, 100, 99, ErrTooLarge},
		{"unknown length over the limit", body, -1, 99, ErrTooLarge},
		{"shorter than declared", body, 120, 200, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time: lengths must not depend on read sizes.
			got, err := Read(iotest.OneByteReader(strings.NewReader(c.body)), c.contentLength, c.limit)
			if !errors.Is(err, c.err) {
				t.Fatalf("Read error = %v; want %v", err, c.err)
			}
			if err == nil && string(got) != c.body {
				t.Errorf("Read = %d bytes; want the %d of the body", len(got), len(c.body))
			}
		})
	}
	t.Run("a declared body over the limit is not read", func(t *testing.T) {
		r := strings.NewReader(body)
		if _, err := Read(r, 100, 10); !errors.Is(err, ErrTooLarge) || r.Len() != len(body) {
			t.Errorf("err %v, %d bytes left; want ErrTooLarge with nothing read", err, r.Len())
		}
	})
}
