package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/jobs"
	"frameforge/internal/logging"
	"frameforge/internal/provider"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/fal/faltest"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/provider/openai"
	"frameforge/internal/provider/openai/openaitest"
)

// The chain most tests use: Gemini, then a fal model, then OpenAI.
const (
	testChain = "google>fal:fal-ai/nano-banana/edit>openai"
	falRoute  = "fal:fal-ai/nano-banana/edit"
)

// chainStack is the real server with all three real providers, each talking
// HTTP to its fake, and the fallback chains of PROVIDER_FALLBACKS.
type chainStack struct {
	h      http.Handler
	gemini *geminitest.Server
	fal    *faltest.Server
	openai *openaitest.Server
	logs   *logBuffer
}

// chainKeys selects which providers hold a (valid) server key.
type chainKeys struct{ google, fal, openai bool }

func newChainStack(t *testing.T, cfg testConfig, chains string, keys chainKeys) *chainStack {
	t.Helper()
	t.Setenv("GEMINI_API_KEY", "")
	t.Setenv("GOOGLE_API_KEY", "")
	st := &chainStack{gemini: geminitest.NewServer(t), fal: faltest.New(t), openai: openaitest.NewServer(t), logs: &logBuffer{}}
	log := logging.New(st.logs, "json", slog.LevelDebug)

	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL, gcfg.BaseBackoff = st.gemini.URL, time.Millisecond
	fcfg := fal.NewDefaultConfig()
	fcfg.QueueURL, fcfg.RestURL, fcfg.PollInitial = st.fal.URL, st.fal.URL, 5*time.Millisecond
	ocfg := openai.NewDefaultConfig()
	ocfg.BaseURL, ocfg.BaseBackoff = st.openai.BaseURL(), time.Millisecond

	ge := provider.Entry{Spec: provider.Google(), Provider: gemini.New(gcfg, st.gemini.Client(), log), Model: gcfg.Model}
	fe := provider.Entry{Spec: provider.Fal(), Provider: fal.New(fcfg, st.fal.Client(), log)}
	oe := provider.Entry{Spec: provider.OpenAI(), Provider: openai.New(ocfg, st.openai.Client(), log), Model: ocfg.Model}
	if keys.google {
		ge.ServerKey = st.gemini.Key
	}
	if keys.fal {
		fe.ServerKey = st.fal.Key
	}
	if keys.openai {
		oe.ServerKey = st.openai.Key
	}
	parsed, err := provider.ParseChains(chains)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := provider.NewRegistry(ge, fe, oe).WithFallbacks(parsed)
	if err != nil {
		t.Fatal(err)
	}
	st.h = newHandler(log, cfg, reg, nil)
	return st
}

func (st *chainStack) metrics(t *testing.T) string {
	t.Helper()
	return serve(st.h, httptest.NewRequest("GET", "/metrics", nil)).Body.String()
}

func fallbackSeries(from, to, reason string) string {
	return `frameforge_provider_fallbacks_total{from="` + from + `",reason="` + reason + `",to="` + to + `"} 1`
}

func TestFallbackGoogleRateLimitedFalAnswers(t *testing.T) {
	st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, fal: true, openai: true})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "7s"})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d %s; want 200 from fal", w.Code, w.Body.String())
	}
	if p, m, tried := w.Header().Get(ProviderHeader), w.Header().Get(ModelHeader), w.Header().Get(TriedHeader); p != falRoute ||
		m != "fal-ai/nano-banana/edit" || tried != "google, "+falRoute {
		t.Errorf("headers provider %q model %q tried %q; want fal's, after google", p, m, tried)
	}
	if len(st.gemini.Requests()) != 1 || len(st.fal.Submits()) != 1 || len(st.openai.Requests()) != 0 {
		t.Errorf("calls: gemini %d, fal %d, openai %d; want 1, 1, 0 (a 429 is not retried, fal answered)",
			len(st.gemini.Requests()), len(st.fal.Submits()), len(st.openai.Requests()))
	}
	if ct := w.Header().Get("Content-Type"); ct != "image/png" || w.Header().Get(FallbackHeader) != "" {
		t.Errorf("Content-Type %q, development fallback header %q", ct, w.Header().Get(FallbackHeader))
	}
	m := st.metrics(t)
	for _, series := range []string{fallbackSeries("google", falRoute, "upstream_rate_limited"),
		`frameforge_provider_calls_total{outcome="upstream_rate_limited",provider="google"} 1`,
		`frameforge_provider_calls_total{outcome="ok",provider="fal"} 1`} {
		if !strings.Contains(m, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if !strings.Contains(st.logs.String(), "fallback chain") {
		t.Error("no log line for the fallback")
	}
}

func TestFallbackSendsTheSamePreparedImagesToEveryProvider(t *testing.T) {
	st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, fal: true, openai: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.Unavailable})
	// fal takes the job (and records its inputs), then its runner fails.
	st.fal.FailAt(faltest.StepResult, faltest.RequestError(503, "runner_disconnected", "Runner disconnected"))
	photo := sidewaysPhoto(t, 120, 60) // EXIF orientation and GPS: must be turned and stripped, once
	second := pngBytes(t, 40, 30, 9)
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", photo), filePart("images", "b.png", second)))
	if w.Code != http.StatusOK || w.Header().Get(ProviderHeader) != "openai" || w.Header().Get(ModelHeader) != "gpt-image-2" {
		t.Fatalf("status = %d, provider %q, model %q; want 200 from openai (%s)", w.Code,
			w.Header().Get(ProviderHeader), w.Header().Get(ModelHeader), w.Body.String())
	}
	if got := w.Header().Get(TriedHeader); got != "google, "+falRoute+", openai" {
		t.Errorf("%s = %q", TriedHeader, got)
	}
	g := st.gemini.Requests()
	subs := st.fal.Submits()
	o := st.openai.Requests()
	if len(g) == 0 || len(subs) != 1 || len(o) != 1 {
		t.Fatalf("calls: gemini %d, fal submits %d, openai %d", len(g), len(subs), len(o))
	}
	sent := g[0].Parts()
	if len(sent) < 2 || len(subs[0].Images) != 2 || len(o[0].ImageData) != 2 {
		t.Fatalf("images: gemini %d parts, fal %d, openai %d; want 2 each", len(sent), len(subs[0].Images), len(o[0].ImageData))
	}
	if bytes.Equal(sent[0].Data, photo) || bytes.Contains(sent[0].Data, []byte("Exif")) {
		t.Fatal("the first photo reached Gemini unprepared")
	}
	for i := range 2 {
		if !bytes.Equal(subs[0].Images[i].Data, sent[i].Data) || !bytes.Equal(o[0].ImageData[i], sent[i].Data) {
			t.Errorf("image %d: fal and OpenAI did not get the bytes Gemini got (one preparation for the whole chain)", i)
		}
	}
	if !strings.Contains(st.metrics(t), fallbackSeries(falRoute, "openai", "upstream_unavailable")) {
		t.Error("/metrics lacks the fal → openai fallback")
	}
}

func TestFallbackChainExhaustedGivesTheLastErrorNamingEveryProvider(t *testing.T) {
	st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, fal: true, openai: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.Unavailable})
	st.fal.FailAt(faltest.StepSubmit, faltest.RequestError(503, "runner_scheduling_failure", "No runner available"))
	st.openai.Script(openaitest.Scenario{Kind: openaitest.Unavailable, RetryAfter: "1"},
		openaitest.Scenario{Kind: openaitest.Unavailable, RetryAfter: "1"}, openaitest.Scenario{Kind: openaitest.Unavailable, RetryAfter: "1"})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d %s; want 503 (the last provider's)", w.Code, w.Body.String())
	}
	e := decodeError(t, w)
	if e.Code != frameforge.EUpstreamUnavail || !contains(e.Detail, "Providers tried in turn", "google (upstream_unavailable)",
		falRoute+" (upstream_unavailable)", "openai (upstream_unavailable)") {
		t.Errorf("error = %+v; want upstream_unavailable naming every provider tried", e)
	}
	if w.Header().Get(ProviderHeader) != "" || w.Header().Get("Retry-After") != "1" {
		t.Errorf("provider header %q, Retry-After %q; want none and the last provider's hint", w.Header().Get(ProviderHeader), w.Header().Get("Retry-After"))
	}
	m := st.metrics(t)
	for _, series := range []string{fallbackSeries("google", falRoute, "upstream_unavailable"),
		fallbackSeries(falRoute, "openai", "upstream_unavailable")} {
		if !strings.Contains(m, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestFallbackRefusalsDoNotFallThrough(t *testing.T) {
	tests := []struct {
		name       string
		script     geminitest.Scenario
		clientKey  string
		wantStatus int
		wantCode   string
	}{
		{"safety block", geminitest.Scenario{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"}, "", 422, frameforge.EContentBlocked},
		{"invalid input", geminitest.Scenario{Kind: geminitest.InvalidArgument}, "", 400, frameforge.EProviderInput},
		{"the client's own bad key", geminitest.Scenario{}, "wrong-google-key", 401, frameforge.EInvalidAPIKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, fal: true, openai: true})
			st.gemini.Script(tt.script)
			r := editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3)))
			if tt.clientKey != "" {
				r.Header.Set("X-Google-API-Key", tt.clientKey)
			}
			w := serve(st.h, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d %s; want %d", w.Code, w.Body.String(), tt.wantStatus)
			}
			if e := decodeError(t, w); e.Code != tt.wantCode || strings.Contains(e.Detail, "tried in turn") {
				t.Errorf("error = %+v; want %s from Google alone", e, tt.wantCode)
			}
			if len(st.fal.Submits()) != 0 || len(st.openai.Requests()) != 0 {
				t.Errorf("a refusal fell through: fal %d, openai %d calls", len(st.fal.Submits()), len(st.openai.Requests()))
			}
			if strings.Contains(st.metrics(t), "frameforge_provider_fallbacks_total{") {
				t.Error("a fallback was counted")
			}
		})
	}
}

func TestFallbackServerKeyRejectedFallsThrough(t *testing.T) {
	// The server's own Google key is refused: the operator's problem, not
	// the client's, and another provider can do the edit.
	st := newChainStack(t, newTestConfig(), "google>openai", chainKeys{openai: true})
	st.gemini.Key = "the-real-key"
	reg := newChainStackWithGoogleKey(t, st, "revoked-server-key")
	w := serve(reg, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	if w.Code != http.StatusOK || w.Header().Get(ProviderHeader) != "openai" {
		t.Fatalf("status = %d, provider %q; want 200 from openai (%s)", w.Code, w.Header().Get(ProviderHeader), w.Body.String())
	}
}

// newChainStackWithGoogleKey rewires st with a literal Google server key.
func newChainStackWithGoogleKey(t *testing.T, st *chainStack, key string) http.Handler {
	t.Helper()
	log := logging.New(st.logs, "json", slog.LevelDebug)
	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL, gcfg.BaseBackoff = st.gemini.URL, time.Millisecond
	ocfg := openai.NewDefaultConfig()
	ocfg.BaseURL, ocfg.BaseBackoff = st.openai.BaseURL(), time.Millisecond
	reg, err := provider.NewRegistry(
		provider.Entry{Spec: provider.Google(), Provider: gemini.New(gcfg, st.gemini.Client(), log), Model: gcfg.Model, ServerKey: key},
		provider.Entry{Spec: provider.OpenAI(), Provider: openai.New(ocfg, st.openai.Client(), log), Model: ocfg.Model, ServerKey: st.openai.Key},
	).WithFallbacks([]provider.Chain{{"google", "openai"}})
	if err != nil {
		t.Fatal(err)
	}
	return newHandler(log, newTestConfig(), reg, nil)
}

func TestFallbackOptOut(t *testing.T) {
	for _, tt := range []struct{ name, target, field string }{
		{"form field", "/api/edit", "false"},
		{"query parameter", "/api/edit?fallback=false", ""},
		{"the form wins over the query", "/api/edit?fallback=true", "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, fal: true, openai: true})
			st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "7s"})
			parts := []part{filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))}
			if tt.field != "" {
				parts = append(parts, fieldPart("fallback", tt.field))
			}
			w := serve(st.h, editRequest(t, tt.target, parts...))
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "7" {
				t.Fatalf("status = %d, Retry-After %q; want Google's 429 with its hint (%s)", w.Code, w.Header().Get("Retry-After"), w.Body.String())
			}
			if len(st.fal.Submits()) != 0 || len(st.openai.Requests()) != 0 {
				t.Error("fallback=false fell back")
			}
		})
	}
	st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3)), fieldPart("fallback", "maybe")))
	if e := decodeError(t, w); w.Code != 400 || e.Code != frameforge.EInvalidRequest || !strings.Contains(e.Detail, "fallback must be true or false") {
		t.Errorf("fallback=maybe: %d %+v; want 400 invalid_request", w.Code, e)
	}
	if len(st.gemini.Requests()) != 0 {
		t.Error("a bad fallback value still called the provider")
	}
}

func TestFallbackSkipsProvidersWithoutKey(t *testing.T) {
	// fal has no key (server or client): it would only echo the photo, so
	// the chain goes from Google straight to OpenAI.
	st := newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, openai: true})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	if w.Code != http.StatusOK || w.Header().Get(ProviderHeader) != "openai" || w.Header().Get(TriedHeader) != "google, openai" {
		t.Fatalf("status = %d, provider %q, tried %q; want 200 from openai", w.Code, w.Header().Get(ProviderHeader), w.Header().Get(TriedHeader))
	}
	if len(st.fal.Requests()) != 0 {
		t.Error("fal was called without a key")
	}
	if !strings.Contains(st.metrics(t), fallbackSeries("google", "openai", "upstream_rate_limited")) {
		t.Error("/metrics lacks google → openai")
	}

	// A client's own fal key brings fal in, for fal only: Google keeps
	// the server's key, and OpenAI is not sent the client's fal key.
	st = newChainStack(t, newTestConfig(), testChain, chainKeys{google: true, openai: true})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited})
	r := editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3)))
	r.Header.Set("X-Fal-Key", st.fal.Key)
	if w := serve(st.h, r); w.Code != http.StatusOK || w.Header().Get(ProviderHeader) != falRoute {
		t.Fatalf("with the client's fal key: %d, provider %q; want fal", w.Code, w.Header().Get(ProviderHeader))
	}
	if g := st.gemini.Requests(); len(g) != 1 || g[0].APIKey != st.gemini.Key {
		t.Error("Google did not get the server's key")
	}

	// The requested provider without any key: the development fallback,
	// as without chains; nothing is called.
	st = newChainStack(t, newTestConfig(), testChain, chainKeys{fal: true, openai: true})
	w = serve(st.h, editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	if w.Code != http.StatusOK || w.Header().Get(FallbackHeader) == "" || len(st.fal.Submits()) != 0 || len(st.openai.Requests()) != 0 {
		t.Errorf("keyless primary: %d, dev fallback %q; want the development fallback and no call", w.Code, w.Header().Get(FallbackHeader))
	}
}

func TestFallbackInJobs(t *testing.T) {
	st := newChainStack(t, withJobs(t, newTestConfig()), testChain, chainKeys{google: true, fal: true, openai: true})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "0.01s"})
	id := submitAnyJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	v := waitJob(t, st.h, id)
	if v.Status != jobs.StatusSucceeded || v.Attempts != 1 || len(v.Results) != 1 {
		t.Fatalf("job = %+v; want succeeded at the first attempt (a fallback that answered is a success)", v)
	}
	res := v.Results[0]
	if v.Provider != "google" || res.Provider != falRoute || res.Model != "fal-ai/nano-banana/edit" || len(res.Tried) != 2 ||
		res.Tried[0].Provider != "google" || res.Tried[0].Code != frameforge.EUpstreamRateLimit || res.Tried[1].Provider != falRoute || res.Tried[1].Code != "" {
		t.Errorf("job provider %q, result %+v; want requested google, made by fal after google's 429", v.Provider, res)
	}
	if !strings.Contains(st.metrics(t), fallbackSeries("google", falRoute, "upstream_rate_limited")) {
		t.Error("/metrics lacks the job's fallback")
	}
}

func TestFallbackInJobsOptOutAndRiverRetry(t *testing.T) {
	st := newChainStack(t, withJobs(t, newTestConfig()), testChain, chainKeys{google: true, fal: true, openai: true})
	// fallback=false: Google's 429 twice uses up both attempts; fal and
	// OpenAI are never asked.
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "0.01s"})
	id := submitAnyJob(t, st.h, editRequest(t, "/api/jobs?fallback=false", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	v := waitJob(t, st.h, id)
	if v.Status != jobs.StatusFailed || v.Error == nil || v.Error.Code != frameforge.EUpstreamRateLimit || v.Attempts != 2 {
		t.Fatalf("job = %+v; want failed upstream_rate_limited after 2 attempts", v)
	}
	if len(st.fal.Submits()) != 0 || len(st.openai.Requests()) != 0 {
		t.Error("a job with fallback=false fell back")
	}

	// The whole chain fails retryably at the first attempt: the job is
	// retried (the chain again) and the second attempt's Google answers.
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "0.01s"})
	st.fal.FailAt(faltest.StepSubmit, faltest.Fault{Status: 503, Body: `{"detail":"busy"}`, Times: 1})
	st.openai.Script(openaitest.Scenario{Kind: openaitest.RateLimited, RetryAfter: "0"})
	id = submitAnyJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	v = waitJob(t, st.h, id)
	if v.Status != jobs.StatusSucceeded || v.Attempts != 2 || len(v.Results) != 1 || v.Results[0].Provider != "google" || len(v.Results[0].Tried) != 1 {
		t.Fatalf("job = %+v; want succeeded by google at the second attempt", v)
	}
}

// submitAnyJob posts r and returns the job's id; a job quick enough to end
// before the answer is written is answered 200 rather than 202.
func submitAnyJob(t testing.TB, h http.Handler, r *http.Request) string {
	t.Helper()
	w := serve(h, r)
	if w.Code != http.StatusAccepted && w.Code != http.StatusOK {
		t.Fatalf("submit = %d %s", w.Code, w.Body.String())
	}
	return decodeJob(t, w).ID
}

// The answers that a fallback changes (the edit's headers, the providers'
// chains, a job's results) match the served document.
func TestFallbackResponsesMatchOpenAPI(t *testing.T) {
	v := newValidator(t)
	st := newChainStack(t, withJobs(t, newTestConfig()), testChain+",openai>google", chainKeys{google: true, fal: true, openai: true})
	check := docChecker(t, v, st.h)
	w := check("providers", httptest.NewRequest("GET", "/api/providers", nil), 200)
	if !strings.Contains(w.Body.String(), `"fallbacks":[["google","`+falRoute+`","openai"],["openai","google"]]`) {
		t.Errorf("/api/providers = %s; want the chains", w.Body.String())
	}
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited})
	check("edit after a fallback", editRequest(t, "/api/edit", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))), 200)
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited, RetryDelay: "0.01s"})
	id := submitAnyJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 3))))
	waitJob(t, st.h, id)
	w = check("job after a fallback", httptest.NewRequest("GET", "/api/jobs/"+id, nil), 200)
	if !strings.Contains(w.Body.String(), `"tried":[{"provider":"google"`) {
		t.Errorf("job = %s; want the providers tried", w.Body.String())
	}
}
