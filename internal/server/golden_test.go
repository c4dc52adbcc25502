package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/auth"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/ratelimit"
	"frameforge/internal/ratelimit/redislimit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestErrorBodiesGolden sends a request for every error a client can cause
// or meet through the real handler (providers against their fakes) and
// compares status, Retry-After and body with testdata/error_bodies.json: a
// change of wording or code shows up in review as a diff (regenerate with
// go test ./internal/server -run ErrorBodiesGolden -update).
// request_timeout needs a real connection's read deadline (TestSlowUploadIs408),
// headers_too_large and expectation_failed come from net/http itself
// (TestNetHTTPErrorsAreJSON), idempotency_in_progress from a race
// (internal/jobs).
func TestErrorBodiesGolden(t *testing.T) {
	img := jpegBytes(t, 32, 24, 1)
	withImage := func(extra ...part) *http.Request {
		return editRequest(t, "/api/edit", append([]part{filePart("image", "room.jpg", img)}, extra...)...)
	}
	gemini := func(sc geminitest.Scenario) func(t *testing.T) (http.Handler, *http.Request) {
		return func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, newTestConfig(), serverKeys{google: true, fal: true})
			st.gemini.SetDefault(sc)
			return st.h, withImage()
		}
	}
	plain := func(req func() *http.Request) func(t *testing.T) (http.Handler, *http.Request) {
		return func(t *testing.T) (http.Handler, *http.Request) {
			h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
			return h, req()
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T) (http.Handler, *http.Request)
	}{
		{frameforge.EInvalidRequest, plain(func() *http.Request {
			r := httptest.NewRequest("POST", "/api/edit", strings.NewReader(`{"image":"x"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		})},
		{frameforge.EMissingImage, plain(func() *http.Request { return editRequest(t, "/api/edit", fieldPart("prompt", "hi")) })},
		{frameforge.EInvalidImage, plain(func() *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "notes.txt", []byte("just some text, not a photo")))
		})},
		{frameforge.EUnsupportedImage, plain(func() *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "IMG_0001.HEIC", heicBytes()))
		})},
		{frameforge.EImageTooLarge, plain(func() *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "big.jpg", make([]byte, 3<<20)))
		})},
		{frameforge.ERequestTooLarge, plain(func() *http.Request {
			p := filePart("image", "a.jpg", make([]byte, 1900<<10))
			return editRequest(t, "/api/edit", p, p, p)
		})},
		{frameforge.ETooManyImages, plain(func() *http.Request {
			p := filePart("image", "a.jpg", img)
			return editRequest(t, "/api/edit", p, p, p, p)
		})},
		{frameforge.ETooManyPixels, plain(func() *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "huge.png", pngClaiming(30000, 30000)))
		})},
		{frameforge.EImageTooComplex, func(t *testing.T) (http.Handler, *http.Request) {
			cfg := newTestConfig()
			cfg.DecodeMemory = 1 << 10
			h, _ := newTestServer(t, cfg, provider.Entry{Provider: panicProvider{}, ServerKey: "k"}, provider.Entry{})
			return h, withImage()
		}},
		{frameforge.EUnknownProvider, plain(func() *http.Request { return withImage(fieldPart("provider", "dall-e")) })},
		{frameforge.EProviderInput, gemini(geminitest.Scenario{Kind: geminitest.InvalidArgument})},
		{frameforge.EInvalidAPIKey, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, newTestConfig(), serverKeys{})
			r := withImage()
			r.Header.Set("X-Google-API-Key", "AIzaWRONGKEY")
			return st.h, r
		}},
		{frameforge.EProviderAuth, gemini(geminitest.Scenario{Kind: geminitest.PermissionDenied})},
		{frameforge.EContentBlocked, gemini(geminitest.Scenario{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"})},
		{frameforge.EUpstreamRateLimit, gemini(geminitest.Scenario{Kind: geminitest.RateLimited})},
		{frameforge.EUpstreamUnavail, gemini(geminitest.Scenario{Kind: geminitest.Unavailable})},
		{frameforge.EUpstreamError, gemini(geminitest.Scenario{Kind: geminitest.BadGatewayHTML})},
		{frameforge.ENoImageReturned, gemini(geminitest.Scenario{Kind: geminitest.TextOnly})},
		{frameforge.EUpstreamTimeout, func(t *testing.T) (http.Handler, *http.Request) {
			cfg := newTestConfig()
			cfg.EditTimeout = 300 * time.Millisecond
			st := newStack(t, cfg, serverKeys{google: true})
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 10 * time.Second})
			return st.h, withImage()
		}},
		{frameforge.ERateLimited, func(t *testing.T) (http.Handler, *http.Request) {
			cfg := newTestConfig()
			cfg.RateLimitEdit = ratelimit.Rule{Limit: 1, Period: time.Hour}
			h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
			serve(h, withImage())
			return h, withImage()
		}},
		{frameforge.ERateLimitUnavail, func(t *testing.T) (http.Handler, *http.Request) {
			// REDIS_FAILURE=closed, Redis down (nothing listens there).
			g, err := redislimit.Open("redis://127.0.0.1:1", redislimit.FailClosed, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			cfg := newTestConfig()
			cfg.RateLimitEdit = ratelimit.Rule{Limit: 1, Period: time.Hour}
			cfg.RateLimiter = g
			h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
			return h, withImage()
		}},
		{frameforge.EOverloaded, func(t *testing.T) (http.Handler, *http.Request) {
			cfg := newTestConfig()
			cfg.MaxConcurrentEdits, cfg.EditQueueSize = 1, 0
			st := newStack(t, cfg, serverKeys{google: true})
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 3 * time.Second})
			go serve(st.h, withImage()) // holds the only place until the fake answers
			if !st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
				t.Fatal("the first edit never reached the fake")
			}
			return st.h, withImage()
		}},
		{frameforge.EInterrupted, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, newTestConfig(), serverKeys{google: true})
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // as net/http does when the client closes (or half-closes) its connection
			return st.h, withImage().WithContext(ctx)
		}},
		{frameforge.EJobNotFound, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			return st.h, httptest.NewRequest("GET", "/api/jobs/job_nope", nil)
		}},
		{frameforge.EJobNotFinished, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 10 * time.Second})
			id := submitJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", img)))
			return st.h, httptest.NewRequest("GET", "/api/jobs/"+id+"/results/0", nil)
		}},
		{frameforge.EResultNotFound, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
			id := submitJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", img)))
			waitJob(t, st.h, id)
			return st.h, httptest.NewRequest("GET", "/api/jobs/"+id+"/results/7", nil)
		}},
		{frameforge.EJobFinished, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
			id := submitJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", img)))
			waitJob(t, st.h, id)
			return st.h, httptest.NewRequest("DELETE", "/api/jobs/"+id, nil)
		}},
		{frameforge.EIdemKeyInvalid, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			r := editRequest(t, "/api/jobs", filePart("image", "room.jpg", img))
			r.Header.Set("Idempotency-Key", "bad\x01key")
			return st.h, r
		}},
		{frameforge.EIdemKeyReused, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			r := editRequest(t, "/api/jobs", filePart("image", "room.jpg", img))
			r.Header.Set("Idempotency-Key", "k1")
			submitJob(t, st.h, r)
			r = editRequest(t, "/api/jobs", filePart("image", "room.jpg", img), fieldPart("prompt", "another"))
			r.Header.Set("Idempotency-Key", "k1")
			return st.h, r
		}},
		{frameforge.EInvalidPreset, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			return st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", img), fieldPart("room_type", "attic"))
		}},
		{frameforge.EInvalidWebhookURL, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			return st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", img), fieldPart("webhook_url", "http://example.com/hook"))
		}},
		{frameforge.ETokenRequired, func(t *testing.T) (http.Handler, *http.Request) {
			st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
			return st.h, httptest.NewRequest("GET", "/api/jobs", nil)
		}},
		{frameforge.EUnauthorized, func(t *testing.T) (http.Handler, *http.Request) {
			st, _ := tokenStack(t, auth.Required, serverKeys{google: true})
			return st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", img))
		}},
		{frameforge.EQuotaExceeded, func(t *testing.T) (http.Handler, *http.Request) {
			st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
			// The reset date moves with the clock: the stored body has it
			// replaced (see resetDate below).
			_, secret, err := tokens.store.Create(t.Context(), auth.NewToken{Name: "golden", Quota: 0})
			if err != nil {
				t.Fatal(err)
			}
			return st.h, withToken(editRequest(t, "/api/edit", filePart("image", "room.jpg", img)), secret)
		}},
		{frameforge.ENotFound, plain(func() *http.Request { return httptest.NewRequest("GET", "/api/nope", nil) })},
		{frameforge.EMethodNotAllowed, plain(func() *http.Request { return httptest.NewRequest("DELETE", "/api/edit", nil) })},
		{frameforge.ENotImplemented, func(t *testing.T) (http.Handler, *http.Request) {
			h, _ := newTestServer(t, newTestConfig(), provider.Entry{ServerKey: "k"}, provider.Entry{})
			return h, withImage()
		}},
		{frameforge.EInternal, func(t *testing.T) (http.Handler, *http.Request) {
			h, _ := newTestServer(t, newTestConfig(), provider.Entry{Provider: panicProvider{}, ServerKey: "k"}, provider.Entry{})
			return h, withImage()
		}},
	}

	type answer struct {
		Status     int             `json:"status"`
		RetryAfter string          `json:"retry_after,omitempty"`
		Allow      string          `json:"allow,omitempty"`
		Body       json.RawMessage `json:"body"`
	}
	got := map[string]answer{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, r := c.run(t)
			r.Header.Set("X-Request-ID", "golden-"+c.name)
			w := serve(h, r)
			e := decodeError(t, w)
			if e.Code != c.name {
				t.Errorf("code = %s (%s); want %s", e.Code, w.Body.String(), c.name)
			}
			if w.Code != ErrorStatus(c.name) {
				t.Errorf("status = %d; want %d", w.Code, ErrorStatus(c.name))
			}
			ra := w.Header().Get("Retry-After")
			if c.name == frameforge.EUpstreamRateLimit || c.name == frameforge.ERateLimited || c.name == frameforge.EOverloaded ||
				c.name == frameforge.ERateLimitUnavail ||
				c.name == frameforge.EInterrupted || c.name == frameforge.EQuotaExceeded {
				if ra == "" {
					t.Errorf("no Retry-After on %s", c.name)
				}
				ra = "set" // its value depends on the clock
			}
			// Details are for people: "Settings > Camera", never "Settings \u003e Camera".
			for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
				if strings.Contains(w.Body.String(), esc) {
					t.Errorf("body is HTML-escaped (%s): %s", esc, w.Body)
				}
			}
			body := resetDate.ReplaceAll(bytes.TrimSpace(w.Body.Bytes()), []byte("<period end>"))
			got[c.name] = answer{Status: w.Code, RetryAfter: ra, Allow: w.Header().Get("Allow"), Body: body}
		})
	}
	for _, code := range frameforge.Codes() {
		// idempotency_in_progress needs two requests racing: internal/jobs TestIdempotencyInProgress.
		elsewhere := code == frameforge.ERequestTimeout || code == frameforge.EHeadersTooLarge || code == frameforge.EExpectationFailed ||
			code == frameforge.EIdemInProgress
		if _, ok := got[code]; !ok && !elsewhere {
			t.Errorf("no golden case for %s", code)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the golden file shows the bytes clients get
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	golden := filepath.Join("testdata", "error_bodies.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var wantMap map[string]answer
	if err := json.Unmarshal(want, &wantMap); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range wantMap {
			if !yield(k) {
				return
			}
		}
	}) {
		w, g := wantMap[name], got[name]
		if w.Status != g.Status || w.RetryAfter != g.RetryAfter || w.Allow != g.Allow || !jsonEqual(w.Body, g.Body) {
			t.Errorf("%s: got %d %s; golden %d %s", name, g.Status, g.Body, w.Status, w.Body)
		}
	}
	if len(wantMap) != len(got) {
		t.Errorf("golden has %d answers, the run %d: run with -update and review", len(wantMap), len(got))
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// TestEveryCodeHasAStatus: each code maps to its own status explicitly (an
// unknown code falls back to 500, which would hide a forgotten entry).
func TestEveryCodeHasAStatus(t *testing.T) {
	for _, c := range frameforge.Codes() {
		if _, ok := codes[c]; !ok {
			t.Errorf("code %q has no HTTP status in the codes table", c)
		}
	}
	if len(codes) != len(frameforge.Codes()) {
		t.Errorf("the codes table has %d entries; frameforge.Codes() %d", len(codes), len(frameforge.Codes()))
	}
}

// resetDate is the period end a quota_exceeded detail names (RFC 3339, UTC).
var resetDate = regexp.MustCompile(`\d{4}-\d\d-\d\dT00:00:00Z`)
