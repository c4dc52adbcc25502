package httpbody

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// countingBody counts what was pulled from the network side.
type countingBody struct {
	r      io.Reader
	n      int64
	closed chan struct{}
}

func (c *countingBody) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, errors.New("read on closed body")
	default:
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func TestTransportLimits(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     io.Reader
		declared int64
		wantLen  int
		wantErr  bool
	}{
		{"success under the limit", 200, strings.NewReader(strings.Repeat("a", 100)), -1, 100, false},
		{"success at the limit", 200, strings.NewReader(strings.Repeat("a", 1000)), -1, 1000, false},
		{"success over the limit", 200, strings.NewReader(strings.Repeat("a", 1001)), -1, 1000, true},
		{"success declared over the limit", 200, strings.NewReader(strings.Repeat("a", 1001)), 1001, 0, true},
		{"error at its limit", 500, strings.NewReader(strings.Repeat("e", 10)), -1, 10, false},
		{"endless error", 500, infinite{}, -1, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := &countingBody{r: tt.body, closed: make(chan struct{})}
			tr := &Transport{MaxBody: 1000, MaxErrorBody: 10, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: tt.status, Body: cb, ContentLength: tt.declared, Request: r}, nil
			})}
			req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			var tle *TooLargeError
			if tt.wantErr != errors.As(err, &tle) || tt.wantErr && (!errors.Is(err, ErrTooLarge) || tle.Status != tt.status) {
				t.Errorf("ReadAll error = %v; want a TooLargeError for HTTP %d: %v", err, tt.status, tt.wantErr)
			}
			if len(got) != tt.wantLen {
				t.Errorf("read %d bytes; want %d", len(got), tt.wantLen)
			}
			if limit := int64(1000); tt.status != 200 && cb.n > 11 || cb.n > limit+1 {
				t.Errorf("pulled %d bytes from the network; want at most the limit + 1", cb.n)
			}
		})
	}
}

type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// blockingBody blocks every Read until it is closed, like a connection
// that trickles nothing.
type blockingBody struct{ closed chan struct{} }

func (b *blockingBody) Read([]byte) (int, error) { <-b.closed; return 0, errors.New("closed") }
func (b *blockingBody) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

// A body whose transport ignores the context is closed when the context
// ends, so the reader gets the context's error instead of waiting forever.
func TestTransportClosesOnContextEnd(t *testing.T) {
	body := &blockingBody{closed: make(chan struct{})}
	tr := &Transport{MaxBody: 1000, MaxErrorBody: 10, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: body, ContentLength: -1, Request: r}, nil
	})}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.invalid/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ReadAll error = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadAll still blocked 10s after the context ended")
	}
}
