package gemini

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/gemini/geminitest"
)

// countingTransport counts the body bytes our code pulls out of the real
// transport (after Go's transparent gzip decoding): what the client read,
// whatever the SDK does with it.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// otherHost is a second local server that must never be reached; it
// records whether it was, and with which key.
func otherHost(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	t.Helper()
	var hits atomic.Int64
	var key atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		key.Store(r.Header.Get("x-goog-api-key"))
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(ts.Close)
	return ts, &hits, &key
}

// A redirect from the Gemini endpoint must not take the key and the photo
// to the host it names.
func TestEditRefusesRedirect(t *testing.T) {
	clearEnv(t)
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			other, hits, key := otherHost(t)
			s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Redirect, Status: status,
				Location: other.URL + "/v1beta/models/" + testModel + ":generateContent"}))
			c := newTestClient(t, s, nil, nil)

			_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})

			if n := hits.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests (key %q); want none", n, key.Load())
			}
			if code, msg := frameforge.ErrorCode(err), frameforge.ErrorMessage(err); code != frameforge.EUpstreamError || !strings.Contains(msg, "redirect") {
				t.Errorf("Edit error = %s %q; want %s naming the redirect", code, msg, frameforge.EUpstreamError)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("fake saw %d requests; want 1 (a redirect is not retried)", n)
			}
		})
	}
}

// Error bodies that never end, plain or as a gzip bomb, are read only up
// to maxErrorBytes, and the edit fails at once with an upstream error.
func TestEditBoundsErrorBodies(t *testing.T) {
	clearEnv(t)
	for _, kind := range []geminitest.Kind{geminitest.EndlessBody, geminitest.GzipBomb} {
		t.Run(kind.String(), func(t *testing.T) {
			s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: kind}))
			hc := s.Client()
			ct := &countingTransport{base: hc.Transport}
			hc.Transport = ct
			c := New(Config{BaseURL: s.URL, Model: testModel, MaxAttempts: 3, BaseBackoff: time.Millisecond}, hc, nil)
			// Generous: the point is that the body's end is not waited
			// for, not how fast a loaded machine reads 64 KiB.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()

			start := time.Now()
			_, err := c.Edit(ctx, frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})
			el := time.Since(start)

			if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamError || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Edit error = %v; want %s before the deadline", err, frameforge.EUpstreamError)
			}
			if n := ct.n.Load(); n > maxErrorBytes+1 {
				t.Errorf("client read %d body bytes; want at most %d", n, maxErrorBytes+1)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("fake saw %d requests; want 1 (an oversized body is not retried)", n)
			}
			if !s.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 && rs[0].BodyDone }) {
				t.Fatal("the fake was still writing 10s after Edit returned: the connection was not closed")
			}
			// What the fake got onto the wire is the cap plus the socket
			// buffers between the two ends; without a cap it is gigabytes.
			if n := s.Requests()[0].BodyBytes; n > 64<<20 {
				t.Errorf("fake wrote %d MiB before the client hung up", n>>20)
			}
			t.Logf("%s: returned after %v; read %d bytes; fake wrote %d bytes", kind, el.Round(time.Millisecond), ct.n.Load(), s.Requests()[0].BodyBytes)
		})
	}
}

// detachedTransport sends requests with a context that never ends, as an
// instrumenting or retrying RoundTripper might: the body read then does not
// stop by itself when the caller's context ends.
type detachedTransport struct{ base http.RoundTripper }

func (t detachedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(context.WithoutCancel(r.Context())))
}

// A body that trickles forever must not hold the edit past its deadline,
// even when the operator's transport does not watch the context.
func TestEditTrickleStopsAtDeadline(t *testing.T) {
	clearEnv(t)
	for _, detached := range []bool{false, true} {
		name := "net/http transport"
		if detached {
			name = "transport ignoring the context"
		}
		t.Run(name, func(t *testing.T) {
			s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Trickle, Interval: 20 * time.Millisecond}))
			hc := s.Client()
			if detached {
				hc.Transport = detachedTransport{base: hc.Transport}
			}
			c := New(Config{BaseURL: s.URL, Model: testModel, BaseBackoff: time.Millisecond}, hc, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()

			done := make(chan error, 1)
			go func() {
				_, err := c.Edit(ctx, frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})
				done <- err
			}()
			select {
			case err := <-done:
				if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamTimeout {
					t.Errorf("Edit error = %v; want %s", err, frameforge.EUpstreamTimeout)
				}
			case <-time.After(10 * time.Second): // the deadline plus generous slack
				t.Fatal("Edit still running 10s after a 300ms deadline")
			}
		})
	}
}

// Malformed 200 bodies that make the SDK panic are an upstream error, not
// a crash.
func TestEditSDKPanicIsUpstreamError(t *testing.T) {
	clearEnv(t)
	for _, body := range []string{`{"candidates":[null]}`, `"x"`, `[1,2]`, `null`} {
		t.Run(body, func(t *testing.T) {
			s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Raw, Status: 200,
				ContentType: "application/json", Body: body}))
			var logs strings.Builder
			c := newTestClient(t, s, newLogger(&logs), nil)

			_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})

			if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamError {
				t.Errorf("Edit error = %v; want %s", err, frameforge.EUpstreamError)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("fake saw %d requests; want 1", n)
			}
			if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "level=WARN") {
				t.Errorf("log has an ERROR line or no WARN line:\n%s", out)
			}
		})
	}
}

// newLogger logs everything from debug up as text to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
