package server

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/logging"
	"frameforge/internal/provider"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/fal/faltest"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/gemini/geminitest"
)

// stack is the real server wired to the real providers, which talk HTTP to
// the fake Gemini and fal servers.
type stack struct {
	h      http.Handler
	gemini *geminitest.Server
	fal    *faltest.Server
	logs   *logBuffer
}

// serverKeys selects whether the server holds its own (valid) keys for the
// fakes; googleKey, when set, is a literal server key instead.
type serverKeys struct {
	google, fal bool
	googleKey   string
}

func newStack(t testing.TB, cfg testConfig, keys serverKeys) *stack {
	t.Helper()
	// The SDK must never pick this up: the request key or ours goes out.
	// (Only one is set: with both, the SDK prints a warning per client.)
	t.Setenv("GEMINI_API_KEY", "ENV-GEMINI-KEY")
	t.Setenv("GOOGLE_API_KEY", "")
	st := &stack{gemini: geminitest.NewServer(t), fal: faltest.New(t), logs: &logBuffer{}}
	log := logging.New(st.logs, "json", slog.LevelDebug)

	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL = st.gemini.URL
	gcfg.BaseBackoff = time.Millisecond
	fcfg := fal.NewDefaultConfig()
	fcfg.QueueURL, fcfg.RestURL = st.fal.URL, st.fal.URL
	fcfg.PollInitial = 5 * time.Millisecond

	ge := provider.Entry{Provider: gemini.New(gcfg, st.gemini.Client(), log), Model: gcfg.Model}
	fe := provider.Entry{Provider: fal.New(fcfg, st.fal.Client(), log)}
	if keys.google {
		ge.ServerKey = st.gemini.Key
	}
	if keys.googleKey != "" {
		ge.ServerKey = keys.googleKey
	}
	if keys.fal {
		fe.ServerKey = st.fal.Key
	}
	reg := registry(ge, fe)
	st.h = newHandler(log, cfg, reg, nil)
	return st
}

func decodeImage(tb testing.TB, data []byte) image.Image {
	tb.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return img
}

func TestGeminiEditEndToEnd(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{})
	a, b := jpegBytes(t, 64, 48, 10), pngBytes(t, 32, 32, 20)
	r := editRequest(t, "/api/edit", filePart("image", "a.jpg", a), filePart("images", "b.png", b))
	r.Header.Set("X-Gemini-API-Key", st.gemini.Key)
	w := serve(st.h, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %.300s", w.Code, w.Body.String())
	}
	reqs := st.gemini.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake got %d requests; want 1", len(reqs))
	}
	got := reqs[0]
	if got.APIKey != st.gemini.Key || got.Model != "gemini-3.1-flash-image" {
		t.Errorf("fake got key match %v, model %q", got.APIKey == st.gemini.Key, got.Model)
	}
	parts := got.Parts()
	if len(parts) != 3 || parts[0].MIMEType != "image/jpeg" || parts[1].MIMEType != "image/png" || parts[2].Text != frameforge.DefaultPrompt {
		t.Fatalf("parts = %d (%q %q); want jpeg, png, then the default prompt", len(parts), parts[0].MIMEType, parts[len(parts)-1].Text)
	}
	if !bytes.Equal(parts[1].Data, b) {
		t.Error("second image did not arrive unchanged (a PNG without metadata needs no change)")
	}
	if !bytes.Equal(w.Body.Bytes(), got.ImageSent) || w.Header().Get("Content-Type") != "image/png" {
		t.Errorf("response is not the model's image (Content-Type %q)", w.Header().Get("Content-Type"))
	}
	if w.Header().Get(FallbackHeader) != "" {
		t.Error("real edit marked as fallback")
	}
}

func TestGeminiUsesServerKeyNotEnvironment(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1)), fieldPart("prompt", "Scandinavian living room")))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %.300s", w.Code, w.Body.String())
	}
	got := st.gemini.Requests()[0]
	if got.APIKey != st.gemini.Key {
		t.Errorf("fake got key %q; want the server's configured key", got.APIKey)
	}
	if p := got.Parts(); p[len(p)-1].Text != "Scandinavian living room" {
		t.Errorf("prompt = %q", p[len(p)-1].Text)
	}
}

func TestGeminiFailuresThroughHTTP(t *testing.T) {
	tests := []struct {
		name       string
		keys       serverKeys
		clientKey  string // "" none, "good", or a literal bad key
		scenario   geminitest.Scenario
		wantStatus int
		wantCode   string
		wantRetry  string
		wantDetail string
	}{
		{"client key rejected", serverKeys{}, "AIzaWRONG", geminitest.Scenario{}, 401, frameforge.EInvalidAPIKey, "", "key"},
		{"server key rejected is not the client's fault", serverKeys{googleKey: "AIzaSERVERWRONG"}, "", geminitest.Scenario{}, 502, frameforge.EProviderAuth, "", "server"},
		{"image safety", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"}, 422, frameforge.EContentBlocked, "", "IMAGE_SAFETY"},
		{"prompt blocked", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.PromptBlocked}, 422, frameforge.EContentBlocked, "", "PROHIBITED_CONTENT"},
		{"text only", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.TextOnly, Text: "I cannot edit this photo."}, 502, frameforge.ENoImageReturned, "", "I cannot edit this photo."},
		{"quota", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "53s"}, 429, frameforge.EUpstreamRateLimit, "53", ""},
		{"overloaded after retries", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.Unavailable}, 503, frameforge.EUpstreamUnavail, "", ""},
		{"html from a proxy", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.BadGatewayHTML}, 502, frameforge.EUpstreamError, "", ""},
		{"malformed json", serverKeys{google: true}, "", geminitest.Scenario{Kind: geminitest.MalformedJSON}, 502, frameforge.EUpstreamError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, newTestConfig(), tt.keys)
			st.gemini.SetDefault(tt.scenario)
			r := editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1)))
			if tt.clientKey != "" {
				r.Header.Set("X-Google-API-Key", tt.clientKey)
			}
			w := serve(st.h, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d; body %.300s", w.Code, tt.wantStatus, w.Body.String())
			}
			e := decodeError(t, w)
			if e.Code != tt.wantCode || !strings.Contains(e.Detail, tt.wantDetail) {
				t.Errorf("error = %+v; want code %s mentioning %q", e, tt.wantCode, tt.wantDetail)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q; want %q", got, tt.wantRetry)
			}
			for _, secret := range []string{st.gemini.Key, "AIzaWRONG", "AIzaSERVERWRONG"} {
				if strings.Contains(w.Body.String(), secret) || strings.Contains(st.logs.String(), secret) {
					t.Errorf("response or log contains the key %q", secret)
				}
			}
			if strings.Contains(w.Body.String(), st.gemini.URL) {
				t.Error("response contains the upstream URL")
			}
		})
	}
}

func TestGeminiDeadlineIs504(t *testing.T) {
	cfg := newTestConfig()
	cfg.EditTimeout = 300 * time.Millisecond
	st := newStack(t, cfg, serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Delay: 10 * time.Second})
	start := time.Now()
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1))))
	if w.Code != http.StatusGatewayTimeout || decodeError(t, w).Code != frameforge.EUpstreamTimeout {
		t.Fatalf("status = %d body %s; want 504 upstream_timeout", w.Code, w.Body.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s; the deadline is 300ms", d)
	}
	if !st.gemini.WaitFor(2*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 && rs[0].Cancelled }) {
		t.Error("upstream call was not cancelled at the deadline")
	}
}

func TestClientHangUpCancelsUpstream(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Delay: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	r := editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1))).WithContext(ctx)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(st.h, r) }()
	st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("handler still running 2s after the client left")
	}
	if !st.gemini.WaitFor(2*time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
		t.Error("upstream call not cancelled when the client hung up")
	}
	if !strings.Contains(st.logs.String(), `"code":"interrupted"`) {
		t.Error("hang-up not logged as interrupted")
	}
}

func TestFalEditEndToEnd(t *testing.T) {
	tests := []struct {
		name   string
		header [2]string
	}{
		{"X-Fal-Key", [2]string{"X-Fal-Key", ""}},
		{"Authorization Bearer (compat)", [2]string{"Authorization", "Bearer "}},
		{"Authorization Key", [2]string{"Authorization", "Key "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, newTestConfig(), serverKeys{})
			a := jpegBytes(t, 64, 48, 10)
			r := editRequest(t, "/api/edit", filePart("image", "a.jpg", a), fieldPart("provider", "fal:fal-ai/bytedance/seedream/v4/edit"))
			r.Header.Set(tt.header[0], tt.header[1]+st.fal.Key)
			w := serve(st.h, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %.300s", w.Code, w.Body.String())
			}
			subs := st.fal.Submits()
			if len(subs) != 1 || subs[0].Model != "fal-ai/bytedance/seedream/v4/edit" || len(subs[0].Images) != 1 {
				t.Fatalf("submits = %+v", subs)
			}
			if _, ok := subs[0].Input["image_urls"]; !ok {
				t.Error("seedream must get image_urls")
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "image/") {
				t.Errorf("Content-Type = %q", ct)
			}
			decodeImage(t, w.Body.Bytes())
		})
	}
}

func TestFalFailuresThroughHTTP(t *testing.T) {
	t.Run("validation error is 400", func(t *testing.T) {
		st := newStack(t, newTestConfig(), serverKeys{fal: true})
		st.fal.FailAt(faltest.StepResult, faltest.ValidationError([]any{"body", "prompt"}, "prompt is too long", "string_too_long"))
		w := serve(st.h, editRequest(t, "/api/edit?provider=fal:fal-ai/nano-banana/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1))))
		if e := decodeError(t, w); w.Code != 400 || e.Code != frameforge.EProviderInput || !strings.Contains(e.Detail, "prompt is too long") {
			t.Errorf("status %d error %+v; want 400 provider_rejected_input with fal's message", w.Code, e)
		}
	})
	t.Run("client key rejected is 401", func(t *testing.T) {
		st := newStack(t, newTestConfig(), serverKeys{fal: true})
		r := editRequest(t, "/api/edit?provider=fal:fal-ai/nano-banana/edit", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1)))
		r.Header.Set("X-Fal-Key", "someone:wrong")
		w := serve(st.h, r)
		if e := decodeError(t, w); w.Code != 401 || e.Code != frameforge.EInvalidAPIKey {
			t.Errorf("status %d error %+v; want 401 invalid_api_key", w.Code, e)
		}
	})
	t.Run("deadline is 504 and cancels the job", func(t *testing.T) {
		cfg := newTestConfig()
		cfg.EditTimeout = 300 * time.Millisecond
		st := newStack(t, cfg, serverKeys{fal: true})
		st.fal.Configure(func(b *faltest.Behavior) { b.StuckInQueue = true })
		w := serve(st.h, editRequest(t, "/api/edit?provider=fal:fal-ai/flux-kontext/dev", filePart("image", "a.jpg", jpegBytes(t, 16, 16, 1))))
		if e := decodeError(t, w); w.Code != 504 || e.Code != frameforge.EUpstreamTimeout {
			t.Errorf("status %d error %+v; want 504 upstream_timeout", w.Code, e)
		}
		if len(st.fal.Cancels()) != 1 {
			t.Errorf("fal got %d cancels; want 1", len(st.fal.Cancels()))
		}
	})
}
