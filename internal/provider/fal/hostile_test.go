package fal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/fal/faltest"
)

// elsewhere is a second local server that must never be reached. It
// records every request and the Authorization header it came with.
type elsewhere struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.auths = append(e.auths, r.Header.Get("Authorization"))
		e.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"status":"COMPLETED","images":[{"url":"data:image/png;base64,AAAA"}]}`))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.auths...)
}

// The URLs of fal's submit answer get our key, so they are followed only on
// the queue host, under the model's owner/app. Anything else fails the edit
// before a single request goes there.
func TestEditJobURLsStayOnQueueHost(t *testing.T) {
	const model = "fal-ai/nano-banana/edit"
	tests := []struct {
		name    string
		field   string
		rewrite func(fake, other string, u string) string
	}{
		{"status_url on another host", "status_url", func(fake, other, u string) string { return strings.Replace(u, fake, other, 1) }},
		{"response_url on another host", "response_url", func(fake, other, u string) string { return strings.Replace(u, fake, other, 1) }},
		{"cancel_url on another host", "cancel_url", func(fake, other, u string) string { return strings.Replace(u, fake, other, 1) }},
		{"status_url over https", "status_url", func(fake, other, u string) string { return strings.Replace(u, "http://", "https://", 1) }},
		{"status_url with credentials", "status_url", func(fake, other, u string) string { return strings.Replace(u, "http://", "http://user:pw@", 1) }},
		{"status_url of another app", "status_url", func(fake, other, u string) string {
			return strings.Replace(u, "/fal-ai/nano-banana/", "/someone/else/", 1)
		}},
		{"status_url climbing out of the app", "status_url", func(fake, other, u string) string {
			return strings.Replace(u, "/requests/", "/requests/../../../someone/else/requests/", 1)
		}},
		{"status_url not a URL", "status_url", func(fake, other, u string) string { return "/fal-ai/nano-banana/requests/x/status" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := faltest.New(t)
			other := newElsewhere(t)
			fake.Configure(func(b *faltest.Behavior) {
				b.RewriteURL = func(field, u string) string {
					if field != tt.field {
						return u
					}
					return tt.rewrite(fake.URL, other.URL, u)
				}
			})
			c, logs := newTestClient(t, fake, nil)

			_, err := c.Edit(context.Background(), editRequest(fake, model, testImages(t, 1)))

			if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamError {
				t.Errorf("Edit error = %v; want %s", err, frameforge.EUpstreamError)
			}
			if got := other.requests(); len(got) != 0 {
				t.Errorf("the other host got %d requests (Authorization %q); want none", len(got), got)
			}
			for _, r := range fake.Requests() {
				if r.Method != http.MethodPost {
					t.Errorf("after the submit, the client went on with %s %s", r.Method, r.Path)
				}
			}
			if strings.Contains(logs.String(), fake.Key) || err != nil && strings.Contains(err.Error(), other.URL) {
				t.Errorf("the key or the foreign URL leaked into the log or the error: %v", err)
			}
		})
	}
}

// A result image is downloaded without the key, and only over https or
// from a configured host: an http URL anywhere else is refused.
func TestEditResultDownloadHost(t *testing.T) {
	fake := faltest.New(t)
	other := newElsewhere(t)
	fake.Configure(func(b *faltest.Behavior) {
		b.OutputURLs = true
		b.RewriteURL = func(field, u string) string {
			if field != "images.url" {
				return u
			}
			return strings.Replace(u, fake.URL, other.URL, 1)
		}
	})
	c, _ := newTestClient(t, fake, nil)

	_, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1)))

	if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamError {
		t.Errorf("Edit error = %v; want %s", err, frameforge.EUpstreamError)
	}
	if got := other.requests(); len(got) != 0 {
		t.Errorf("the plain-http foreign host got %d downloads; want none", len(got))
	}
}

// No step follows a redirect: the second host sees nothing, the edit
// fails with an upstream error that says why, and a running job is still
// cancelled through fal's own cancel URL.
func TestEditRefusesRedirect(t *testing.T) {
	tests := []struct {
		step       faltest.Step
		wantCancel bool
		urls       bool // results as CDN URLs, so there is a download
	}{
		{step: faltest.StepSubmit},
		{step: faltest.StepStatus, wantCancel: true},
		{step: faltest.StepResult},
		{step: faltest.StepFile, urls: true},
		{step: faltest.StepUpload},
	}
	for _, tt := range tests {
		t.Run(string(tt.step), func(t *testing.T) {
			t.Parallel()
			fake := faltest.New(t)
			other := newElsewhere(t)
			fake.FailAt(tt.step, faltest.Redirect(http.StatusTemporaryRedirect, other.URL+"/fal-ai/nano-banana/edit"))
			fake.Configure(func(b *faltest.Behavior) { b.OutputURLs = tt.urls })
			c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.UploadThreshold = 0 })

			_, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1)))

			if got := other.requests(); len(got) != 0 {
				t.Errorf("the redirect target got %d requests (Authorization %q); want none", len(got), got)
			}
			if code, msg := frameforge.ErrorCode(err), frameforge.ErrorMessage(err); code != frameforge.EUpstreamError || !strings.Contains(msg, "redirect") {
				t.Errorf("Edit error = %s %q; want %s naming the redirect", code, msg, frameforge.EUpstreamError)
			}
			if tt.step == faltest.StepStatus && len(fake.StatusCalls()) != 1 {
				t.Errorf("status calls = %d; want 1 (a redirect is not retried)", len(fake.StatusCalls()))
			}
			if n := len(fake.Cancels()); (n == 1) != tt.wantCancel {
				t.Errorf("cancels = %d; want a cancel: %v", n, tt.wantCancel)
			}
		})
	}
}

// countingTransport counts the body bytes of error answers our code pulls
// out of the real transport (after Go's transparent gzip decoding).
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
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

// An error body that never ends, plain or as a gzip bomb, is read only up
// to maxErrorBytes, and the edit fails by the answer's status.
func TestEditBoundsErrorBodies(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault faltest.Fault
	}{
		{"endless", faltest.EndlessError(500)},
		{"gzip bomb", faltest.GzipBomb(500)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := faltest.New(t)
			fake.FailAt(faltest.StepResult, tt.fault)
			cfg := NewDefaultConfig()
			cfg.QueueURL, cfg.RestURL = fake.URL, fake.URL
			cfg.PollInitial, cfg.PollMax = 5*time.Millisecond, 20*time.Millisecond
			hc := fake.Client()
			ct := &countingTransport{base: hc.Transport}
			hc.Transport = ct
			c := New(cfg, hc, nil)

			_, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1)))

			if code, msg := frameforge.ErrorCode(err), frameforge.ErrorMessage(err); code != frameforge.EUpstreamError || !strings.Contains(msg, "HTTP 500") {
				t.Errorf("Edit error = %s %q; want %s for HTTP 500", code, msg, frameforge.EUpstreamError)
			}
			if n := ct.n.Load(); n > maxErrorBytes+1 {
				t.Errorf("client read %d bytes of the error body; want at most %d", n, maxErrorBytes+1)
			}
			// The fake's count includes the socket buffers between the
			// two ends; without a cap it is the whole result limit (76 MB).
			if n := fake.BodyBytes(); n > 64<<20 {
				t.Errorf("fake wrote %d MiB of the error body", n>>20)
			}
		})
	}
}
