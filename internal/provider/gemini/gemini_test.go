package gemini

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"frameforge"
	"frameforge/internal/provider/gemini/geminitest"
)

const testModel = "gemini-3.1-flash-image"

// clearEnv makes sure no test can pick up a real key or endpoint from the
// environment; t.Setenv restores the values afterwards.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
		"GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"} {
		t.Setenv(k, "")
	}
}

// newTestClient points a client at the fake with millisecond backoffs.
func newTestClient(t testing.TB, s *geminitest.Server, log *slog.Logger, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: s.URL, Model: testModel, MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	return New(cfg, s.Client(), log)
}

func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func inputs(t testing.TB) []frameforge.Image {
	return []frameforge.Image{
		{Data: geminitest.PNG(8, 6, 10), ContentType: "image/png", Filename: "a.png"},
		{Data: testJPEG(t, 10, 8), ContentType: "image/jpeg", Filename: "b.jpg"},
	}
}

func serverKey(s *geminitest.Server) frameforge.Key { return frameforge.NewKey(s.Key, false) }

func TestEditSuccess(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t)
	c := newTestClient(t, s, nil, nil)
	in := inputs(t)
	const prompt = "Stage this empty living room with mid-century furniture"

	img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: in, Prompt: prompt, Key: frameforge.NewKey(s.Key, true)})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake saw %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	if got, want := r.RawPath, "/v1beta/models/"+testModel+":generateContent"; got != want {
		t.Errorf("path = %q; want %q", got, want)
	}
	if r.Method != http.MethodPost || r.Streamed {
		t.Errorf("method %s streamed %v; want unary POST", r.Method, r.Streamed)
	}
	if r.APIKey != s.Key || r.KeyFromQuery || r.Header.Get("x-goog-api-key") != s.Key {
		t.Errorf("key %q (query %v); want the request key in x-goog-api-key", r.APIKey, r.KeyFromQuery)
	}
	if len(r.Contents) != 1 || r.Contents[0].Role != "user" {
		t.Fatalf("contents = %+v; want one user content", r.Contents)
	}
	parts := r.Parts()
	if len(parts) != 3 {
		t.Fatalf("got %d parts; want 2 images + prompt", len(parts))
	}
	for i, want := range in {
		if parts[i].MIMEType != want.ContentType || !bytes.Equal(parts[i].Data, want.Data) {
			t.Errorf("part %d = %s (%d bytes); want %s (%d bytes) in upload order", i, parts[i].MIMEType, len(parts[i].Data), want.ContentType, len(want.Data))
		}
	}
	if parts[2].Text != prompt || parts[2].Data != nil {
		t.Errorf("last part = %+v; want the prompt text", parts[2])
	}
	gc := r.GenerationConfig
	if got := gc["responseModalities"]; !reflect.DeepEqual(got, []any{"IMAGE"}) {
		t.Errorf("responseModalities = %v; want [IMAGE]", got)
	}
	if got := gc["candidateCount"]; got != float64(1) {
		t.Errorf("candidateCount = %v; want 1", got)
	}
	if !bytes.Equal(img.Data, r.ImageSent) || len(img.Data) == 0 {
		t.Errorf("returned %d bytes; want the %d bytes the fake sent", len(img.Data), len(r.ImageSent))
	}
	if img.ContentType != "image/png" || img.Width != 64 || img.Height != 48 {
		t.Errorf("image = %s %dx%d; want image/png 64x48", img.ContentType, img.Width, img.Height)
	}

	t.Run("model override and empty prompt", func(t *testing.T) {
		if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: in[:1], Model: "gemini-3-pro-image", Key: serverKey(s)}); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		r := s.Requests()[1]
		if r.Model != "gemini-3-pro-image" {
			t.Errorf("model = %q; want the request's model", r.Model)
		}
		if p := r.Parts(); p[len(p)-1].Text != frameforge.DefaultPrompt {
			t.Errorf("prompt = %q; want the default prompt", p[len(p)-1].Text)
		}
	})
}

func TestEditPicksLastNonThoughtImage(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Thoughts}))
	c := newTestClient(t, s, nil, nil)
	img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if want := s.Requests()[0].ImageSent; !bytes.Equal(img.Data, want) {
		t.Errorf("got %d bytes; want the final image (%d bytes), not the draft", len(img.Data), len(want))
	}

	// Only a draft: thought images and thought text are never the answer.
	s.Script(geminitest.Scenario{Kind: geminitest.Thoughts, DraftOnly: true})
	_, err = c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})
	if msg := frameforge.ErrorMessage(err); frameforge.ErrorCode(err) != frameforge.ENoImageReturned || msg != "Gemini returned no image (NO_IMAGE)." {
		t.Errorf("draft only: %s %q; want %s without the thought text", frameforge.ErrorCode(err), msg, frameforge.ENoImageReturned)
	}
}

// forbidden are fragments of upstream bodies that must never reach a
// client's message.
var forbidden = []string{
	"API key not valid", "reported as leaked", "An internal error has occurred", "The model is overloaded",
	"not available in your country", "Request contains an invalid argument", "That’s an error", "<",
	"You exceeded your current quota", "is not found for API version", "Support code", "googleapis.com",
	"{", "payload size exceeds", "API Key not found",
}

func TestEditFailures(t *testing.T) {
	clearEnv(t)
	type scn = geminitest.Scenario
	tests := []struct {
		name           string
		sc             scn
		opts           []geminitest.Option
		badKey         bool // send a key the fake rejects
		clientKey      bool // the key came with the request
		model          string
		wantCode       string
		wantRetryAfter time.Duration
		wantMsg        string // substring of the message
		wantRequests   int
	}{
		{name: "prompt blocked", sc: scn{Kind: geminitest.PromptBlocked},
			wantCode: frameforge.EContentBlocked, wantMsg: "Gemini blocked the request (PROHIBITED_CONTENT).", wantRequests: 1},
		{name: "image safety", sc: scn{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"},
			wantCode: frameforge.EContentBlocked, wantMsg: "(IMAGE_SAFETY)", wantRequests: 1},
		{name: "image prohibited content", sc: scn{Kind: geminitest.Finish, FinishReason: "IMAGE_PROHIBITED_CONTENT",
			FinishMessage: "The model output could not be generated. Support code: 42876398."},
			wantCode: frameforge.EContentBlocked, wantMsg: "(IMAGE_PROHIBITED_CONTENT)", wantRequests: 1},
		{name: "safety", sc: scn{Kind: geminitest.Finish, FinishReason: "SAFETY"},
			wantCode: frameforge.EContentBlocked, wantMsg: "(SAFETY)", wantRequests: 1},
		{name: "image recitation", sc: scn{Kind: geminitest.Finish, FinishReason: "IMAGE_RECITATION"},
			wantCode: frameforge.EContentBlocked, wantMsg: "(IMAGE_RECITATION)", wantRequests: 1},
		{name: "no image", sc: scn{Kind: geminitest.Finish, FinishReason: "NO_IMAGE"},
			wantCode: frameforge.ENoImageReturned, wantMsg: "Gemini returned no image (NO_IMAGE).", wantRequests: 1},
		{name: "image other", sc: scn{Kind: geminitest.Finish, FinishReason: "IMAGE_OTHER"},
			wantCode: frameforge.ENoImageReturned, wantMsg: "(IMAGE_OTHER)", wantRequests: 1},
		{name: "text only", sc: scn{Kind: geminitest.TextOnly, Text: "Here is a picture of Snoopy:"},
			wantCode: frameforge.ENoImageReturned, wantMsg: `instead of an image: "Here is a picture of Snoopy:"`, wantRequests: 1},
		{name: "bad client key", badKey: true, clientKey: true,
			wantCode: frameforge.EInvalidAPIKey, wantRequests: 1},
		{name: "bad server key", badKey: true,
			wantCode: frameforge.EProviderAuth, wantRequests: 1},
		{name: "key not found variant", clientKey: true, sc: scn{Kind: geminitest.Raw, Status: 400, ContentType: "application/json",
			Body: `{"error":{"code":400,"message":"API Key not found. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`},
			wantCode: frameforge.EInvalidAPIKey, wantRequests: 1},
		{name: "leaked client key", sc: scn{Kind: geminitest.PermissionDenied}, clientKey: true,
			wantCode: frameforge.EInvalidAPIKey, wantRequests: 1},
		{name: "leaked server key", sc: scn{Kind: geminitest.PermissionDenied},
			wantCode: frameforge.EProviderAuth, wantRequests: 1},
		{name: "rate limited", sc: scn{Kind: geminitest.RateLimited, RetryDelay: "53s"},
			wantCode: frameforge.EUpstreamRateLimit, wantRetryAfter: 53 * time.Second, wantRequests: 1},
		{name: "rate limited fractional", sc: scn{Kind: geminitest.RateLimited, RetryDelay: "53.016342224s"},
			wantCode: frameforge.EUpstreamRateLimit, wantRetryAfter: 54 * time.Second, wantRequests: 1},
		{name: "daily quota without RetryInfo", sc: scn{Kind: geminitest.RateLimited, OmitRetryInfo: true},
			wantCode: frameforge.EUpstreamRateLimit, wantRequests: 1},
		{name: "retired model", model: "gemini-2.5-flash-image-preview",
			wantCode: frameforge.EUpstreamError, wantMsg: `"gemini-2.5-flash-image-preview" is not available`, wantRequests: 1},
		{name: "invalid argument", sc: scn{Kind: geminitest.InvalidArgument},
			wantCode: frameforge.EProviderInput, wantMsg: "Gemini rejected the request as invalid.", wantRequests: 1},
		{name: "payload too large", opts: []geminitest.Option{geminitest.WithMaxRequestBytes(512)},
			wantCode: frameforge.EProviderInput, wantMsg: "too large", wantRequests: 1},
		{name: "failed precondition", sc: scn{Kind: geminitest.FailedPrecondition},
			wantCode: frameforge.EUpstreamError, wantMsg: "not available for this account or region", wantRequests: 1},
		{name: "internal after retries", sc: scn{Kind: geminitest.Internal},
			wantCode: frameforge.EUpstreamError, wantRequests: 3},
		{name: "unavailable after retries", sc: scn{Kind: geminitest.Unavailable, RetryDelay: "0.001s"},
			wantCode: frameforge.EUpstreamUnavail, wantRetryAfter: time.Second, wantRequests: 3},
		{name: "html 502", sc: scn{Kind: geminitest.BadGatewayHTML},
			wantCode: frameforge.EUpstreamError, wantRequests: 3},
		{name: "upstream 504", sc: scn{Kind: geminitest.Raw, Status: 504, ContentType: "application/json",
			Body: `{"error":{"code":504,"message":"Deadline expired before operation could complete.","status":"DEADLINE_EXCEEDED"}}`},
			wantCode: frameforge.EUpstreamTimeout, wantRequests: 3},
		{name: "array-wrapped 400", sc: scn{Kind: geminitest.Raw, Status: 400, ContentType: "application/json",
			Body: `[{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}]`},
			wantCode: frameforge.EUpstreamError, wantRequests: 1},
		{name: "malformed 200", sc: scn{Kind: geminitest.MalformedJSON},
			wantCode: frameforge.EUpstreamError, wantMsg: "could not be read", wantRequests: 1},
		{name: "not an image", sc: scn{Kind: geminitest.ImageOnly, Image: []byte("plain text, not a picture")},
			wantCode: frameforge.EUpstreamError, wantMsg: "not a supported image", wantRequests: 1},
		{name: "key echoed in body", sc: scn{Kind: geminitest.KeyInErrorBody},
			wantCode: frameforge.EProviderInput, wantRequests: 1},
		{name: "key echoed in 500 body", sc: scn{Kind: geminitest.KeyInErrorBody, Status: 500},
			wantCode: frameforge.EUpstreamError, wantRequests: 3},
		{name: "connection cut mid-body", sc: scn{Kind: geminitest.Cut},
			wantCode: frameforge.EUpstreamUnavail, wantRequests: 3},
		{name: "connection dropped", sc: scn{Kind: geminitest.Disconnect},
			wantCode: frameforge.EUpstreamUnavail, wantRequests: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := geminitest.NewServer(t, append([]geminitest.Option{geminitest.WithDefault(tt.sc)}, tt.opts...)...)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := newTestClient(t, s, log, func(c *Config) {
				if tt.model != "" {
					c.Model = tt.model
				}
			})
			secret := s.Key
			if tt.badKey {
				secret = "AIzaWRONG-key-that-the-fake-rejects-000"
			}
			_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "stage it",
				Key: frameforge.NewKey(secret, tt.clientKey)})

			var fe *frameforge.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Edit error = %v; want *frameforge.Error", err)
			}
			if fe.Code != tt.wantCode {
				t.Errorf("code = %s; want %s (err: %v)", fe.Code, tt.wantCode, err)
			}
			if fe.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v; want %v", fe.RetryAfter, tt.wantRetryAfter)
			}
			if !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", fe.Message, tt.wantMsg)
			}
			if fe.Err == nil {
				t.Error("no internal cause kept in Err")
			}
			if n := len(s.Requests()); n != tt.wantRequests {
				t.Errorf("fake saw %d requests; want %d", n, tt.wantRequests)
			}
			if strings.Contains(fe.Message, secret) || strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
				t.Errorf("the key leaked into the message, the error text or the log:\n%s\n%s", err, logs.String())
			}
			for _, f := range forbidden {
				if strings.Contains(fe.Message, f) {
					t.Errorf("message %q echoes upstream text %q", fe.Message, f)
				}
			}
			if strings.ContainsAny(fe.Message, "\n\r") || utf8.RuneCountInString(fe.Message) > 300 {
				t.Errorf("message is not one short line: %q", fe.Message)
			}
			if !strings.Contains(logs.String(), "gemini attempt") || !strings.Contains(logs.String(), "gemini edit failed") {
				t.Errorf("missing attempt or failure log lines:\n%s", logs.String())
			}
		})
	}
}

func TestEditTextExcerpt(t *testing.T) {
	clearEnv(t)
	long := "I cannot edit this photo.\n\nInstead, here is a description: " + strings.Repeat("a sofa, a lamp, a rug; ", 40)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.TextOnly, Text: long}))
	c := newTestClient(t, s, nil, nil)
	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: serverKey(s)})
	msg := frameforge.ErrorMessage(err)
	if frameforge.ErrorCode(err) != frameforge.ENoImageReturned {
		t.Fatalf("code = %s; want %s", frameforge.ErrorCode(err), frameforge.ENoImageReturned)
	}
	_, quoted, _ := strings.Cut(msg, `"`)
	quoted = strings.TrimSuffix(quoted, `"`)
	if n := utf8.RuneCountInString(quoted); n > 200 || !strings.HasPrefix(quoted, "I cannot edit this photo. Instead,") || strings.Contains(msg, "\n") {
		t.Errorf("excerpt (%d runes) = %q; want <= 200 runes of the text on one line", n, quoted)
	}
}

func TestEditRetries(t *testing.T) {
	clearEnv(t)
	key := func(s *geminitest.Server) frameforge.Key { return serverKey(s) }

	t.Run("503 503 200 succeeds", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly}))
		s.Script(geminitest.Scenario{Kind: geminitest.Unavailable}, geminitest.Scenario{Kind: geminitest.Unavailable})
		c := newTestClient(t, s, nil, nil)
		img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: key(s)})
		if err != nil {
			t.Fatalf("Edit: %v", err)
		}
		reqs := s.Requests()
		if len(reqs) != 3 || !bytes.Equal(img.Data, reqs[2].ImageSent) {
			t.Errorf("fake saw %d requests; want 3, the last one's image returned", len(reqs))
		}
	})

	t.Run("500 until MaxAttempts", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Internal}))
		c := newTestClient(t, s, nil, func(c *Config) { c.MaxAttempts = 4 })
		_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: key(s)})
		if frameforge.ErrorCode(err) != frameforge.EUpstreamError || len(s.Requests()) != 4 {
			t.Errorf("code %s after %d requests; want %s after 4", frameforge.ErrorCode(err), len(s.Requests()), frameforge.EUpstreamError)
		}
	})

	t.Run("RetryInfo delay honoured", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly}))
		s.Script(geminitest.Scenario{Kind: geminitest.Unavailable, RetryDelay: "0.05s"})
		c := newTestClient(t, s, nil, func(c *Config) { c.BaseBackoff, c.MaxBackoff = time.Microsecond, time.Second })
		waits := recordSleeps(c)
		if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: key(s)}); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		if n := len(s.Requests()); n != 2 {
			t.Fatalf("fake saw %d requests; want 2", n)
		}
		if got := *waits; !reflect.DeepEqual(got, []time.Duration{50 * time.Millisecond}) {
			t.Errorf("waits before retrying = %v; want the 50ms RetryInfo hint", got)
		}
	})

	t.Run("backoff grows and stays under its cap", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Internal}))
		c := newTestClient(t, s, nil, func(c *Config) {
			c.MaxAttempts, c.BaseBackoff, c.MaxBackoff = 6, time.Second, 4*time.Second
		})
		waits := recordSleeps(c)
		_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: key(s)})
		if frameforge.ErrorCode(err) != frameforge.EUpstreamError || len(*waits) != 5 {
			t.Fatalf("code %s after %d waits; want %s after 5", frameforge.ErrorCode(err), len(*waits), frameforge.EUpstreamError)
		}
		// Full jitter: wait i is below min(BaseBackoff<<i, MaxBackoff).
		for i, w := range *waits {
			if ceil := min(time.Second<<i, 4*time.Second); w < 0 || w >= ceil {
				t.Errorf("wait %d = %v; want in [0, %v)", i+1, w, ceil)
			}
		}
	})

	t.Run("retry past the deadline is not attempted", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Unavailable, RetryDelay: "90s"}))
		// The 90s hint is under MaxBackoff but past the deadline.
		c := newTestClient(t, s, nil, func(c *Config) { c.MaxBackoff = 2 * time.Minute })
		waits := recordSleeps(c)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := c.Edit(ctx, frameforge.EditRequest{Images: inputs(t), Key: key(s)})
		if len(*waits) != 0 {
			t.Errorf("waited %v; want an immediate answer", *waits)
		}
		if frameforge.ErrorCode(err) != frameforge.EUpstreamUnavail || frameforge.RetryAfter(err) != 90*time.Second {
			t.Errorf("got %s retry-after %v; want %s, 90s", frameforge.ErrorCode(err), frameforge.RetryAfter(err), frameforge.EUpstreamUnavail)
		}
		if n := len(s.Requests()); n != 1 {
			t.Errorf("fake saw %d requests; want 1", n)
		}
	})

	t.Run("hint longer than MaxBackoff is not waited for", func(t *testing.T) {
		s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.Unavailable, RetryDelay: "30s"}))
		c := newTestClient(t, s, nil, nil)
		_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: key(s)})
		if frameforge.ErrorCode(err) != frameforge.EUpstreamUnavail || frameforge.RetryAfter(err) != 30*time.Second || len(s.Requests()) != 1 {
			t.Errorf("got %s retry-after %v after %d requests; want %s, 30s, 1", frameforge.ErrorCode(err), frameforge.RetryAfter(err), len(s.Requests()), frameforge.EUpstreamUnavail)
		}
	})
}

// recordSleeps makes c's backoff waits return at once and records them.
// Edit runs its attempts one after another, so no lock is needed while a
// single Edit runs.
func recordSleeps(c *Client) *[]time.Duration {
	var waits []time.Duration
	c.retry.Sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

func TestEditDeadline(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 10 * time.Second}))
	c := newTestClient(t, s, nil, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Edit(ctx, frameforge.EditRequest{Images: inputs(t), Key: serverKey(s)})
	if el := time.Since(start); el > time.Second {
		t.Errorf("Edit took %v; want ~150ms", el)
	}
	if frameforge.ErrorCode(err) != frameforge.EUpstreamTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want %s wrapping context.DeadlineExceeded", err, frameforge.EUpstreamTimeout)
	}
	if !s.WaitFor(time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 && rs[0].Cancelled }) {
		t.Error("the fake did not see the request cancelled")
	}
}

// TestEditHTTPClientTimeout: the operator's http.Client.Timeout is a
// per-call budget; when it fires the answer is a timeout, not a retry.
func TestEditHTTPClientTimeout(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 10 * time.Second}))
	hc := s.Client()
	hc.Timeout = 100 * time.Millisecond
	c := New(Config{BaseURL: s.URL, Model: testModel, BaseBackoff: time.Millisecond}, hc, nil)
	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: serverKey(s)})
	if frameforge.ErrorCode(err) != frameforge.EUpstreamTimeout || len(s.Requests()) != 1 {
		t.Errorf("code %s after %d requests; want %s after 1", frameforge.ErrorCode(err), len(s.Requests()), frameforge.EUpstreamTimeout)
	}
}

func TestEditContractViolations(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t)
	c := newTestClient(t, s, nil, nil)
	tests := []struct {
		name string
		req  frameforge.EditRequest
		want string
	}{
		{"no images", frameforge.EditRequest{Key: serverKey(s)}, frameforge.EInternal},
		{"bad model", frameforge.EditRequest{Images: inputs(t), Model: "gemini?key=x", Key: serverKey(s)}, frameforge.EInvalidRequest},
	}
	for _, tt := range tests {
		if _, err := c.Edit(t.Context(), tt.req); frameforge.ErrorCode(err) != tt.want {
			t.Errorf("%s: code %s; want %s", tt.name, frameforge.ErrorCode(err), tt.want)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("fake saw %d requests; want none", n)
	}
}

func TestEditClientCancel(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 10 * time.Second}))
	c := newTestClient(t, s, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Edit(ctx, frameforge.EditRequest{Images: inputs(t), Key: serverKey(s)})
		done <- err
	}()
	if !s.WaitFor(2*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 && rs[0].Scripted }) {
		t.Fatal("request never reached the fake")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want it to wrap context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Edit did not return within 1s of the cancellation")
	}
	if !s.WaitFor(time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
		t.Error("the fake did not record the cancellation within 1s")
	}
}

// TestEditConcurrent proves edits are independent: 50 one-second edits
// overlap instead of queueing behind each other.
func TestEditConcurrent(t *testing.T) {
	clearEnv(t)
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: time.Second}))
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	t.Cleanup(hc.CloseIdleConnections)
	c := New(Config{BaseURL: s.URL, Model: testModel, BaseBackoff: time.Millisecond}, hc, nil)
	in := inputs(t)

	const n = 50
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: in, Key: serverKey(s)})
			if err == nil && len(img.Data) == 0 {
				err = errors.New("empty image")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Edit: %v", err)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("%d concurrent 1s edits took %v; want < 5s", n, el)
	}
	if got := len(s.Requests()); got != n {
		t.Errorf("fake saw %d requests; want %d", got, n)
	}
}

// TestEditIgnoresEnvironment: the SDK would take a key, a base URL and even
// the backend from the environment; the request's key and our config must win.
func TestEditIgnoresEnvironment(t *testing.T) {
	t.Setenv("GEMINI_API_KEY", "env-bogus-gemini-key")
	t.Setenv("GOOGLE_API_KEY", "env-bogus-google-key")
	t.Setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/")
	t.Setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "env-project")
	t.Setenv("GOOGLE_CLOUD_LOCATION", "env-location")
	s := geminitest.NewServer(t)
	c := newTestClient(t, s, nil, nil)

	if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: frameforge.NewKey(s.Key, true)}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	r := s.Requests()[0]
	if r.APIKey != s.Key || r.RawPath != "/v1beta/models/"+testModel+":generateContent" {
		t.Errorf("fake got key %q at %s; want the request key at the Gemini API path", r.APIKey, r.RawPath)
	}

	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Key: frameforge.Key{}})
	if frameforge.ErrorCode(err) != frameforge.EInternal {
		t.Errorf("empty key: code %s; want %s", frameforge.ErrorCode(err), frameforge.EInternal)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("empty key reached the fake (%d requests); want no request", n)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := NewDefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"relative url", func(c *Config) { c.BaseURL = "/v1beta" }, "GEMINI_BASE_URL:"},
		{"ftp url", func(c *Config) { c.BaseURL = "ftp://example.com/" }, "GEMINI_BASE_URL:"},
		{"empty model", func(c *Config) { c.Model = "" }, "GOOGLE_MODEL_ID:"},
		{"model with query", func(c *Config) { c.Model = "gemini?x=1" }, "GOOGLE_MODEL_ID:"},
		{"model path traversal", func(c *Config) { c.Model = "models/../x" }, "GOOGLE_MODEL_ID:"},
		{"attempts", func(c *Config) { c.MaxAttempts = 0 }, "GEMINI_MAX_ATTEMPTS:"},
		{"backoff", func(c *Config) { c.BaseBackoff = 0 }, "GEMINI_BASE_BACKOFF:"},
		{"cap", func(c *Config) { c.MaxBackoff = time.Millisecond }, "GEMINI_MAX_BACKOFF:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewDefaultConfig()
			tt.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tt.want)
			}
		})
	}
	if ok := (Config{BaseURL: "http://127.0.0.1:8080/proxy/", Model: "models/gemini-3-pro-image", MaxAttempts: 1,
		BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}).Validate(); ok != nil {
		t.Errorf("valid custom config rejected: %v", ok)
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		details []map[string]any
		want    time.Duration
	}{
		{nil, 0},
		{[]map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "53s"}}, 53 * time.Second},
		{[]map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}}, 1500 * time.Millisecond},
		{[]map[string]any{{"@type": "type.googleapis.com/google.rpc.Help"}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": map[string]any{"seconds": "2", "nanos": float64(5e8)}}}, 2500 * time.Millisecond},
		{[]map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}}, 0},
		{[]map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "-3s"}}, 0},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.details); got != tt.want {
			t.Errorf("retryDelay(%v) = %v; want %v", tt.details, got, tt.want)
		}
	}
	if got := roundUpSeconds(53016342224 * time.Nanosecond); got != 54*time.Second {
		t.Errorf("roundUpSeconds(53.016s) = %v; want 54s", got)
	}
}
