package fal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/fal/faltest"
)

// TestEditErrors checks the mapping of every fal failure to our error code,
// and that no message carries the key or fal's raw body.
func TestEditErrors(t *testing.T) {
	const nginx502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
	html := map[string]string{"Content-Type": "text/html"}
	tests := []struct {
		name      string
		model     string                               // default nano-banana/edit
		prompt    *string                              // default "Stage this room"
		key       func(*faltest.Server) frameforge.Key // default the fake's key, from the client
		setup     func(*faltest.Server)
		cfg       func(*Config)
		wantCode  string
		wantRetry time.Duration
		wantMsg   string // a substring of the public message
		rawBody   string // must not appear in the message
		check     func(*testing.T, *faltest.Server)
	}{
		{
			name:     "client key rejected",
			key:      func(*faltest.Server) frameforge.Key { return frameforge.NewKey("someone:wrong-secret-value", true) },
			wantCode: frameforge.EInvalidAPIKey, wantMsg: "rejected your API key",
		},
		{
			name:     "server key rejected",
			key:      func(*faltest.Server) frameforge.Key { return frameforge.NewKey("ours:wrong-secret-value", false) },
			wantCode: frameforge.EProviderAuth, wantMsg: "this server's API key",
		},
		{
			name:     "malformed key",
			key:      func(*faltest.Server) frameforge.Key { return frameforge.NewKey("no-colon-in-this-key", true) },
			wantCode: frameforge.EInvalidAPIKey,
		},
		{
			name:     "locked client key",
			key:      func(f *faltest.Server) frameforge.Key { return frameforge.NewKey(f.LockedKey, true) },
			wantCode: frameforge.EInvalidAPIKey, wantMsg: "locked (exhausted balance)",
			rawBody: "Top up your balance",
		},
		{
			name:     "locked server key",
			key:      func(f *faltest.Server) frameforge.Key { return frameforge.NewKey(f.LockedKey, false) },
			wantCode: frameforge.EProviderAuth, wantMsg: "locked (exhausted balance)",
		},
		{
			name: "status 401 while polling",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepStatus, faltest.Fault{Status: 401, Body: `{"detail":"No user found for Key ID and Secret"}`})
			},
			wantCode: frameforge.EInvalidAPIKey,
			check: func(t *testing.T, f *faltest.Server) {
				if n := len(f.StatusCalls()); n != 1 {
					t.Errorf("status calls = %d; want 1 (auth failures are not retried)", n)
				}
				if n := len(f.Cancels()); n != 1 {
					t.Errorf("cancels = %d; want 1", n)
				}
			},
		},
		{
			name: "submit 422 field errors",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 422, Body: `{"detail":[
					{"loc":["body","image_urls",0],"msg":"Image too large: ` + strings.Repeat("x", 400) + `","type":"image_too_large","url":"https://docs.fal.ai/errors#image_too_large","ctx":{"max_height":1024}},
					{"loc":["body","prompt"],"msg":"too long","type":"string_too_long"},
					{"loc":["body","seed"],"msg":"bad seed","type":"int_type"},
					{"loc":["body","num_images"],"msg":"bad count","type":"int_type"}]}`})
			},
			wantCode: frameforge.EProviderInput, wantMsg: "fal.ai rejected the input: image_urls.0: Image too large: xxx",
			rawBody: "docs.fal.ai",
			check: func(t *testing.T, f *faltest.Server) {
				if n := len(f.StatusCalls()); n != 0 {
					t.Errorf("status calls = %d after a failed submit", n)
				}
			},
		},
		{
			name: "submit 422 string detail",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 422, Body: `{"detail":"Prompt must not be empty"}`})
			},
			wantCode: frameforge.EProviderInput, wantMsg: "Prompt must not be empty",
		},
		{
			name:     "result 422 from fal's own validation",
			prompt:   new(string),
			wantCode: frameforge.EProviderInput, wantMsg: "prompt: String should have at least 1 character",
			check: func(t *testing.T, f *faltest.Server) {
				calls := f.StatusCalls()
				if len(calls) == 0 || calls[len(calls)-1].Status != "COMPLETED" {
					t.Errorf("status did not reach COMPLETED: %+v", calls)
				}
			},
		},
		{
			name: "content policy at result",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepResult, faltest.ContentPolicyViolation())
			},
			wantCode: frameforge.EContentBlocked, wantMsg: "content checker",
		},
		{
			name:     "nsfw output",
			model:    "fal-ai/flux-kontext/dev",
			setup:    func(f *faltest.Server) { f.Configure(func(b *faltest.Behavior) { b.NSFW = true }) },
			wantCode: frameforge.EContentBlocked, wantMsg: "safety checker",
		},
		{
			name: "429 with Retry-After",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.RateLimited(7*time.Second))
			},
			wantCode: frameforge.EUpstreamRateLimit, wantRetry: 7 * time.Second,
		},
		{
			name: "503 runner_scheduling_failure",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.RequestError(503, "runner_scheduling_failure", "Failed to schedule a runner for this request"))
			},
			wantCode: frameforge.EUpstreamUnavail, wantMsg: "runner_scheduling_failure",
			rawBody: "Failed to schedule",
		},
		{
			name: "504 request_timeout at result",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepResult, faltest.RequestError(504, "request_timeout", "Request timed out"))
			},
			wantCode: frameforge.EUpstreamError, wantMsg: "HTTP 504, request_timeout",
		},
		{
			name: "nginx 502 html at submit",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 502, Header: html, Body: nginx502})
			},
			wantCode: frameforge.EUpstreamError, rawBody: nginx502,
		},
		{
			name: "error body echoes the key",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, f.KeyEcho())
			},
			wantCode: frameforge.EUpstreamError,
		},
		{
			name: "422 message echoes the key and a signed URL",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepResult, faltest.Fault{Status: 422, Body: `{"detail":[{"loc":["body","image_urls",0],"msg":"cannot fetch https://v3.fal.media/files/x.png?token=SIGNED with ` + f.Key + `","type":"file_download_error"}]}`})
			},
			wantCode: frameforge.EProviderInput, wantMsg: "cannot fetch [url] with [redacted]", rawBody: "SIGNED",
		},
		{
			name: "malformed submit JSON",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 200, Body: `{"status":"IN_QU`})
			},
			wantCode: frameforge.EUpstreamError, wantMsg: "could not understand",
		},
		{
			name: "submit without URLs",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 200, Body: `{"status":"IN_QUEUE","request_id":"x"}`})
			},
			wantCode: frameforge.EUpstreamError,
		},
		{
			name: "malformed result JSON",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepResult, faltest.Fault{Status: 200, Body: `{"images":[{"url":`})
			},
			wantCode: frameforge.EUpstreamError,
		},
		{
			name:     "result without images",
			setup:    func(f *faltest.Server) { f.Configure(func(b *faltest.Behavior) { b.NoImages = true }) },
			wantCode: frameforge.ENoImageReturned,
		},
		{
			name:     "output URL 404",
			setup:    func(f *faltest.Server) { f.Configure(func(b *faltest.Behavior) { b.BrokenOutputURL = true }) },
			wantCode: frameforge.EUpstreamError, wantMsg: "HTTP 404",
		},
		{
			name: "output URL is not an image",
			setup: func(f *faltest.Server) {
				f.Configure(func(b *faltest.Behavior) { b.OutputURLs = true })
				f.FailAt(faltest.StepFile, faltest.Fault{Status: 200, Header: html, Body: "<html><body>Access denied</body></html>"})
			},
			wantCode: frameforge.EUpstreamError, wantMsg: "not an image",
		},
		{
			name: "output image labelled text",
			setup: func(f *faltest.Server) {
				f.Configure(func(b *faltest.Behavior) { b.OutputURLs = true })
				f.FailAt(faltest.StepFile, faltest.Fault{Status: 200, Header: map[string]string{"Content-Type": "text/plain"}, Body: "\x89PNG\r\n\x1a\n0000"})
			},
			wantCode: frameforge.EUpstreamError, wantMsg: "not an image",
		},
		{
			name:     "download over MaxDownloadBytes",
			setup:    func(f *faltest.Server) { f.Configure(func(b *faltest.Behavior) { b.OutputURLs = true }) },
			cfg:      func(c *Config) { c.MaxDownloadBytes = 50 },
			wantCode: frameforge.EUpstreamError, wantMsg: "larger than this server accepts",
		},
		{
			name:     "data URI over MaxDownloadBytes",
			cfg:      func(c *Config) { c.MaxDownloadBytes = 50 },
			wantCode: frameforge.EUpstreamError,
		},
		{
			name: "completed with error_type, result says nothing",
			setup: func(f *faltest.Server) {
				f.Configure(func(b *faltest.Behavior) {
					b.CompletedError, b.CompletedErrorType = "Runner disconnected at https://internal/x", "runner_disconnected"
				})
				f.FailAt(faltest.StepResult, faltest.Fault{Status: 500, Header: html, Body: nginx502})
			},
			wantCode: frameforge.EUpstreamUnavail, wantMsg: "runner_disconnected", rawBody: "internal",
		},
		{
			name: "completed with error, result has the real 422",
			setup: func(f *faltest.Server) {
				f.Configure(func(b *faltest.Behavior) { b.CompletedError, b.CompletedErrorType = "validation failed", "bad_request" })
				f.FailAt(faltest.StepResult, faltest.Fault{Status: 422, Body: `{"detail":[{"loc":["body","image_url"],"msg":"field required","type":"missing"}]}`})
			},
			wantCode: frameforge.EProviderInput, wantMsg: "image_url: field required",
		},
		{
			name:     "result expired",
			setup:    func(f *faltest.Server) { f.Configure(func(b *faltest.Behavior) { b.ResultTTL = -time.Second }) },
			wantCode: frameforge.EUpstreamError, wantMsg: "HTTP 404",
		},
		{
			name: "upload initiate rejected",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepUpload, faltest.Fault{Status: 403, Body: `{"detail":"User is locked. Reason: Admin lock."}`})
			},
			cfg:      func(c *Config) { c.UploadThreshold = 0 },
			wantCode: frameforge.EInvalidAPIKey, wantMsg: "account is locked.",
			check: func(t *testing.T, f *faltest.Server) {
				if n := len(f.Submits()); n != 0 {
					t.Errorf("submitted after a failed upload")
				}
			},
		},
		{
			name: "upload PUT refused",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepUploadPut, faltest.Fault{Status: 403, Body: "<Error>SignatureDoesNotMatch</Error>"})
			},
			cfg:      func(c *Config) { c.UploadThreshold = 0 },
			wantCode: frameforge.EUpstreamError, wantMsg: "storage refused", rawBody: "SignatureDoesNotMatch",
		},
		{
			name:     "unknown model at fal",
			model:    "fal-ai/x",
			wantCode: frameforge.EUpstreamError, wantMsg: "does not know the model fal-ai/x (HTTP 404)",
			setup: func(f *faltest.Server) {
				f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 404, Body: `{"detail":"Application 'x' not found"}`})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := faltest.New(t)
			if tt.setup != nil {
				tt.setup(fake)
			}
			c, logs := newTestClient(t, fake, tt.cfg)
			model := tt.model
			if model == "" {
				model = "fal-ai/nano-banana/edit"
			}
			req := editRequest(fake, model, testImages(t, 1))
			if tt.prompt != nil {
				req.Prompt = *tt.prompt
			}
			if tt.key != nil {
				req.Key = tt.key(fake)
			}

			_, err := c.Edit(context.Background(), req)
			var fe *frameforge.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Edit() error = %v; want a *frameforge.Error", err)
			}
			t.Logf("%s: %q (cause: %v)", fe.Code, fe.Message, fe.Err)
			if fe.Code != tt.wantCode {
				t.Errorf("code = %q; want %q (%v)", fe.Code, tt.wantCode, err)
			}
			if fe.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v; want %v", fe.RetryAfter, tt.wantRetry)
			}
			if !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", fe.Message, tt.wantMsg)
			}
			for _, secret := range []string{fake.Key, req.Key.Reveal(), fake.URL} {
				if strings.Contains(fe.Message, secret) {
					t.Errorf("message %q contains %q", fe.Message, secret)
				}
			}
			for _, secret := range []string{fake.Key, req.Key.Reveal()} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("error or log contains the key: %v", err)
				}
			}
			if tt.rawBody != "" && strings.Contains(fe.Message, tt.rawBody) {
				t.Errorf("message %q echoes the raw body", fe.Message)
			}
			if tt.check != nil {
				tt.check(t, fake)
			}
		})
	}
}
