package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/envconf"
	"frameforge/internal/provider/openai/openaitest"
)

// clearEnv makes sure no test can pick up a real key or endpoint from the
// environment (the SDK reads these); t.Setenv restores them afterwards.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"} {
		t.Setenv(k, "")
	}
}

// newTestClient points a client at the fake with millisecond backoffs.
func newTestClient(t testing.TB, s *openaitest.Server, log *slog.Logger) *Client {
	t.Helper()
	cfg := Config{BaseURL: s.BaseURL(), Model: DefaultModel, MaxAttempts: 3,
		BaseBackoff: time.Millisecond, MaxBackoff: 100 * time.Millisecond}
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

func pngInput(w, h int) frameforge.Image {
	return frameforge.Image{Data: openaitest.PNG(w, h), ContentType: "image/png", Filename: "room.png", Width: w, Height: h}
}

func clientKey(s *openaitest.Server) frameforge.Key { return frameforge.NewKey(s.Key, true) }

func TestEditOneImage(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	c := newTestClient(t, s, nil)
	const prompt = "Stage this empty living room"

	img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(40, 30)},
		Prompt: prompt, Key: clientKey(s)})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d; want 1", len(reqs))
	}
	r := reqs[0]
	if r.Authorization != "Bearer "+s.Key {
		t.Errorf("Authorization = %q; want the Bearer key", r.Authorization)
	}
	if r.ImagePart != "image" || len(r.ImageTypes) != 1 || r.ImageTypes[0] != "image/png" {
		t.Errorf("image parts = %q %q; want one \"image\" part of image/png", r.ImagePart, r.ImageTypes)
	}
	want := map[string]string{"prompt": prompt, "model": "gpt-image-2", "n": "1", "output_format": "png", "size": "1456x1088"}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("field %s = %q; want %q", k, r.Fields[k], v)
		}
	}
	if _, ok := r.Fields["input_fidelity"]; ok {
		t.Error("input_fidelity sent to gpt-image-2")
	}
	if img.ContentType != "image/png" || img.Width != 1456 || img.Height != 1088 {
		t.Errorf("image = %s %dx%d; want image/png 1456x1088", img.ContentType, img.Width, img.Height)
	}
}

func TestEditSeveralImages(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	c := newTestClient(t, s, nil)
	in := []frameforge.Image{pngInput(30, 40), {Data: testJPEG(t, 10, 8), ContentType: "image/jpeg"}}

	if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: in, Prompt: "p", Key: clientKey(s), Model: "gpt-image-2.5-flare"}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	r := s.Requests()[0]
	if r.ImagePart != "image[]" || fmt.Sprint(r.ImageTypes) != "[image/png image/jpeg]" {
		t.Errorf("image parts = %q %q; want image[] parts image/png, image/jpeg", r.ImagePart, r.ImageTypes)
	}
	if r.Fields["model"] != "gpt-image-2.5-flare" || r.Fields["size"] != "1088x1456" {
		t.Errorf("model, size = %q, %q; want gpt-image-2.5-flare, 1088x1456 (the first image's ratio)", r.Fields["model"], r.Fields["size"])
	}
	for _, n := range r.ImageNames {
		if n == "" || strings.Contains(n, "anonymous") {
			t.Errorf("part file name %q; want a real name", n)
		}
	}
}

func TestChooseSize(t *testing.T) {
	tests := []struct {
		w, h int
		want string
	}{
		{1024, 1024, "1248x1248"},
		{4000, 3000, "1456x1088"},
		{1920, 1080, "1680x944"},
		{1080, 1920, "944x1680"},
		{9000, 1000, "2160x720"}, // past 3:1: clamped, never over the limit
		{100, 1000, "720x2160"},
		{0, 0, "auto"},
	}
	for _, tt := range tests {
		got := chooseSize(tt.w, tt.h)
		if got != tt.want {
			t.Errorf("chooseSize(%d, %d) = %s; want %s", tt.w, tt.h, got, tt.want)
		}
		if got != "auto" {
			if _, _, err := openaitest.ParseSize(got); err != nil {
				t.Errorf("chooseSize(%d, %d) = %s, refused: %v", tt.w, tt.h, got, err)
			}
		}
	}
}

func TestEditFailures(t *testing.T) {
	tests := []struct {
		name       string
		script     []openaitest.Scenario
		serverKey  bool // use the key as the server's, not the client's
		badKey     bool
		wantCode   string
		wantCalls  int
		wantRetry  time.Duration
		wantInText string
	}{
		{name: "moderation blocked", script: []openaitest.Scenario{{Kind: openaitest.ModerationBlocked}},
			wantCode: frameforge.EContentBlocked, wantCalls: 1, wantInText: "moderation_blocked"},
		{name: "rate limited", script: []openaitest.Scenario{{Kind: openaitest.RateLimited, RetryAfter: "7"}},
			wantCode: frameforge.EUpstreamRateLimit, wantCalls: 1, wantRetry: 7 * time.Second},
		{name: "client key rejected", badKey: true, wantCode: frameforge.EInvalidAPIKey, wantCalls: 1},
		{name: "server key rejected", badKey: true, serverKey: true, wantCode: frameforge.EProviderAuth, wantCalls: 1},
		{name: "401 with the right key", script: []openaitest.Scenario{{Kind: openaitest.InvalidKey}},
			wantCode: frameforge.EInvalidAPIKey, wantCalls: 1},
		{name: "403", script: []openaitest.Scenario{{Kind: openaitest.Forbidden}}, serverKey: true,
			wantCode: frameforge.EProviderAuth, wantCalls: 1},
		{name: "503 with a long Retry-After: no retry", script: []openaitest.Scenario{{Kind: openaitest.Unavailable, RetryAfter: "30"}},
			wantCode: frameforge.EUpstreamUnavail, wantCalls: 1, wantRetry: 30 * time.Second},
		{name: "500 three times", script: rep(openaitest.Internal, 3), wantCode: frameforge.EUpstreamError, wantCalls: 3},
		{name: "503 three times", script: rep(openaitest.Unavailable, 3), wantCode: frameforge.EUpstreamUnavail, wantCalls: 3},
		{name: "malformed JSON", script: []openaitest.Scenario{{Kind: openaitest.MalformedJSON}},
			wantCode: frameforge.EUpstreamError, wantCalls: 1},
		{name: "no image", script: []openaitest.Scenario{{Kind: openaitest.NoImage}},
			wantCode: frameforge.ENoImageReturned, wantCalls: 1},
		{name: "400 quoting the key", script: []openaitest.Scenario{{Kind: openaitest.KeyInErrorBody}},
			wantCode: frameforge.EProviderInput, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			s := openaitest.NewServer(t)
			s.Script(tt.script...)
			var logs bytes.Buffer
			c := newTestClient(t, s, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			secret := s.Key
			if tt.badKey {
				secret = "sk-wrong-" + s.Key
			}
			_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)},
				Prompt: "p", Key: frameforge.NewKey(secret, !tt.serverKey)})
			if got := frameforge.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v); want %q", got, err, tt.wantCode)
			}
			if got := len(s.Requests()); got != tt.wantCalls {
				t.Errorf("calls = %d; want %d", got, tt.wantCalls)
			}
			if got := frameforge.RetryAfter(err); got != tt.wantRetry {
				t.Errorf("RetryAfter = %v; want %v", got, tt.wantRetry)
			}
			msg := frameforge.ErrorMessage(err)
			if !strings.Contains(msg, tt.wantInText) {
				t.Errorf("message %q; want it to contain %q", msg, tt.wantInText)
			}
			for _, text := range []string{msg, err.Error(), logs.String()} {
				if strings.Contains(text, secret) || strings.Contains(text, s.URL) {
					t.Errorf("key or URL leaked: %q", text)
				}
			}
			if !strings.Contains(msg, "OpenAI") {
				t.Errorf("message %q does not name OpenAI", msg)
			}
		})
	}
}

func rep(k openaitest.Kind, n int) []openaitest.Scenario {
	out := make([]openaitest.Scenario, n)
	for i := range out {
		out[i].Kind = k
	}
	return out
}

func TestEditRetriesThenSucceeds(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	s.Script(openaitest.Scenario{Kind: openaitest.Internal}, openaitest.Scenario{Kind: openaitest.Unavailable, RetryAfter: "0.01"})
	c := newTestClient(t, s, nil)
	if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("calls = %d; want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.ImageSizes[0] == 0 || r.ImageTypes[0] != "image/png" {
			t.Errorf("attempt %d sent image %d bytes %q; want the whole PNG again", i+1, r.ImageSizes[0], r.ImageTypes[0])
		}
	}
}

func TestEditRetryNeverPastDeadline(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	s.Script(openaitest.Scenario{Kind: openaitest.Unavailable, RetryAfter: "5"})
	c := newTestClient(t, s, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := c.Edit(ctx, frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)})
	if frameforge.ErrorCode(err) != frameforge.EUpstreamUnavail {
		t.Fatalf("code = %q (%v); want %q", frameforge.ErrorCode(err), err, frameforge.EUpstreamUnavail)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("calls = %d; want 1 (the wait would pass the deadline)", n)
	}
}

func TestEditDeadline(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	s.Script(openaitest.Scenario{Delay: 5 * time.Second})
	c := newTestClient(t, s, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Edit(ctx, frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)})
	if frameforge.ErrorCode(err) != frameforge.EUpstreamTimeout {
		t.Fatalf("code = %q (%v); want %q", frameforge.ErrorCode(err), err, frameforge.EUpstreamTimeout)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Edit took %v; want it to end at the deadline", d)
	}
}

func TestEditCancel(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	s.Script(openaitest.Scenario{Delay: 5 * time.Second})
	c := newTestClient(t, s, nil)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Edit(ctx, frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want it to wrap context.Canceled", err)
	}
}

func TestEditRefusesOtherImageTypes(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	c := newTestClient(t, s, nil)
	gif := frameforge.Image{Data: []byte("GIF89a\x01\x00\x01\x00"), ContentType: "image/gif"}
	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{gif}, Prompt: "p", Key: clientKey(s)})
	if frameforge.ErrorCode(err) != frameforge.EProviderInput {
		t.Fatalf("code = %q; want %q", frameforge.ErrorCode(err), frameforge.EProviderInput)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("calls = %d; want 0", n)
	}
}

func TestEditIgnoresEnvironment(t *testing.T) {
	s := openaitest.NewServer(t)
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1/")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	c := newTestClient(t, s, nil)
	if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if got := s.Requests()[0].Authorization; got != "Bearer "+s.Key {
		t.Errorf("Authorization = %q; want the request's key", got)
	}
	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p"})
	if frameforge.ErrorCode(err) != frameforge.EInternal {
		t.Errorf("empty key: code = %q; want %q (never the environment's key)", frameforge.ErrorCode(err), frameforge.EInternal)
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{name: "defaults"},
		{name: "later model", env: map[string]string{"OPENAI_IMAGE_MODEL": "gpt-image-2.6-sunburst"}},
		{name: "shut down gpt-image-1.5", env: map[string]string{"OPENAI_IMAGE_MODEL": "gpt-image-1.5"}, wantErr: []string{"OPENAI_IMAGE_MODEL", "shut down"}},
		{name: "shut down gpt-image-1", env: map[string]string{"OPENAI_IMAGE_MODEL": "gpt-image-1"}, wantErr: []string{"OPENAI_IMAGE_MODEL", "shut down"}},
		{name: "shut down mini", env: map[string]string{"OPENAI_IMAGE_MODEL": "gpt-image-1-mini"}, wantErr: []string{"OPENAI_IMAGE_MODEL", "shut down"}},
		{name: "shut down chatgpt", env: map[string]string{"OPENAI_IMAGE_MODEL": "chatgpt-image-latest"}, wantErr: []string{"OPENAI_IMAGE_MODEL", "shut down"}},
		{name: "not a model", env: map[string]string{"OPENAI_IMAGE_MODEL": "gpt-4o"}, wantErr: []string{"OPENAI_IMAGE_MODEL"}},
		{name: "bad url", env: map[string]string{"OPENAI_BASE_URL": "ftp://x"}, wantErr: []string{"OPENAI_BASE_URL"}},
		{name: "attempts", env: map[string]string{"OPENAI_MAX_ATTEMPTS": "0"}, wantErr: []string{"OPENAI_MAX_ATTEMPTS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := envconf.New(func(k string) string { return tt.env[k] })
			c := LoadConfigFromEnv(env)
			err := env.Err()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("err = %v; want none", err)
				}
				if c.BaseURL != DefaultBaseURL {
					t.Errorf("BaseURL = %q; want %q", c.BaseURL, DefaultBaseURL)
				}
				return
			}
			if err == nil {
				t.Fatal("err = nil; want one")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEditConnectionErrorsAreRetried(t *testing.T) {
	clearEnv(t)
	s := openaitest.NewServer(t)
	base := s.BaseURL()
	s.Close() // nothing listens any more: every attempt is refused
	cfg := Config{BaseURL: base, MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	c := New(cfg, nil, nil)
	attempts := 0
	c.retry.Sleep = func(context.Context, time.Duration) error { attempts++; return nil }
	_, err := c.Edit(t.Context(), frameforge.EditRequest{Images: []frameforge.Image{pngInput(16, 16)}, Prompt: "p", Key: clientKey(s)})
	if frameforge.ErrorCode(err) != frameforge.EUpstreamUnavail {
		t.Fatalf("code = %q (%v); want %q", frameforge.ErrorCode(err), err, frameforge.EUpstreamUnavail)
	}
	if attempts != 1 {
		t.Errorf("waits = %d; want 1 (two attempts)", attempts)
	}
	if strings.Contains(frameforge.ErrorMessage(err), "127.0.0.1") {
		t.Errorf("message %q shows the upstream URL", frameforge.ErrorMessage(err))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "7"}, 250 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "-3"}, 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%v) = %v; want %v", tt.h, got, tt.want)
		}
	}
}
