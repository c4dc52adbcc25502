package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"frameforge/internal/jobs"
	"frameforge/internal/provider"
	"frameforge/internal/provider/fal/faltest"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/ratelimit"
	"frameforge/internal/server/apidoc"
	"frameforge/internal/webhook"
)

// docChecker serves a request through h and checks that the answer has the
// wanted status and matches the OpenAPI document; name says which request
// failed.
func docChecker(t *testing.T, v validator.Validator, h http.Handler) func(name string, r *http.Request, want int) *httptest.ResponseRecorder {
	return func(name string, r *http.Request, want int) *httptest.ResponseRecorder {
		t.Helper()
		w := serve(h, r)
		if w.Code != want {
			t.Fatalf("%s: status %d; want %d: %.300s", name, w.Code, want, w.Body.String())
		}
		if ok, errs := v.ValidateHttpResponse(r, w.Result()); !ok {
			for _, e := range errs {
				t.Errorf("%s: response does not match the document: %s (%s)", name, e.Message, e.Reason)
			}
		}
		return w
	}
}

func newValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(apidoc.New(registry(provider.Entry{}, provider.Entry{}).Describe()).Document())
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %s", e.Error())
		}
		t.FailNow()
	}
	return v
}

// TestResponsesMatchOpenAPI sends real requests for every endpoint and
// every class of error through the real handler (providers against their
// fakes) and validates each response against the served document.
func TestResponsesMatchOpenAPI(t *testing.T) {
	v := newValidator(t)
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 1000, Period: time.Hour}
	cfg.RateLimitEdit = ratelimit.Rule{Limit: 1000, Period: time.Hour}
	st := newStack(t, cfg, serverKeys{google: true, fal: true})
	img := jpegBytes(t, 32, 24, 1)
	edit := func(target string, parts ...part) *http.Request { return editRequest(t, target, parts...) }
	withImage := func(target string, extra ...part) *http.Request {
		return edit(target, append([]part{filePart("image", "room.jpg", img)}, extra...)...)
	}

	type tc struct {
		name       string
		req        func() *http.Request
		setup      func()
		wantStatus int
		validateAs *http.Request // for routes the document cannot list (404 anywhere): validate as this operation's default
	}
	cases := []tc{
		{name: "health", req: func() *http.Request { return httptest.NewRequest("GET", "/api/health", nil) }, wantStatus: 200},
		{name: "ready", req: func() *http.Request { return httptest.NewRequest("GET", "/api/ready", nil) }, wantStatus: 200},
		{name: "providers", req: func() *http.Request { return httptest.NewRequest("GET", "/api/providers", nil) }, wantStatus: 200},
		{name: "metrics", req: func() *http.Request { return httptest.NewRequest("GET", "/metrics", nil) }, wantStatus: 200},
		{name: "openapi", req: func() *http.Request { return httptest.NewRequest("GET", "/api/openapi.json", nil) }, wantStatus: 200},
		{name: "docs", req: func() *http.Request { return httptest.NewRequest("GET", "/api/docs", nil) }, wantStatus: 200},
		{name: "staging page", req: func() *http.Request { return httptest.NewRequest("GET", "/", nil) }, wantStatus: 200},
		{name: "edit gemini", req: func() *http.Request { return withImage("/api/edit") }, wantStatus: 200},
		{name: "edit fal", req: func() *http.Request { return withImage("/api/edit?provider=fal:fal-ai/nano-banana/edit") }, wantStatus: 200},
		{name: "not multipart", req: func() *http.Request {
			r := httptest.NewRequest("POST", "/api/edit", strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, wantStatus: 400},
		{name: "not an image", req: func() *http.Request { return edit("/api/edit", filePart("image", "a.txt", []byte("hello there"))) }, wantStatus: 400},
		{name: "unknown provider", req: func() *http.Request { return withImage("/api/edit", fieldPart("provider", "midjourney")) }, wantStatus: 400},
		{name: "too many pixels", req: func() *http.Request { return edit("/api/edit", filePart("image", "b.png", pngClaiming(30000, 30000))) }, wantStatus: 413},
		{name: "heic", req: func() *http.Request { return edit("/api/edit", filePart("image", "a.heic", heicBytes())) }, wantStatus: 415},
		{name: "client key rejected", req: func() *http.Request {
			r := withImage("/api/edit")
			r.Header.Set("X-Google-API-Key", "AIzaNOPE")
			return r
		}, wantStatus: 401},
		{name: "blocked", setup: func() { st.gemini.Script(geminitest.Scenario{Kind: geminitest.PromptBlocked}) },
			req: func() *http.Request { return withImage("/api/edit") }, wantStatus: 422},
		{name: "upstream quota", setup: func() { st.gemini.Script(geminitest.Scenario{Kind: geminitest.RateLimited}) },
			req: func() *http.Request { return withImage("/api/edit") }, wantStatus: 429},
		{name: "no image returned", setup: func() { st.gemini.Script(geminitest.Scenario{Kind: geminitest.TextOnly}) },
			req: func() *http.Request { return withImage("/api/edit") }, wantStatus: 502},
		{name: "upstream unavailable", setup: func() {
			st.gemini.Script(geminitest.Scenario{Kind: geminitest.Unavailable}, geminitest.Scenario{Kind: geminitest.Unavailable}, geminitest.Scenario{Kind: geminitest.Unavailable})
		}, req: func() *http.Request { return withImage("/api/edit") }, wantStatus: 503},
		{name: "fal rejects input", setup: func() {
			st.fal.FailAt(faltest.StepResult, faltest.ValidationError([]any{"body", "prompt"}, "too long", "string_too_long"))
		}, req: func() *http.Request { return withImage("/api/edit?provider=fal:fal-ai/nano-banana/edit") }, wantStatus: 400},
		{name: "not found", req: func() *http.Request { return httptest.NewRequest("GET", "/nope", nil) }, wantStatus: 404,
			validateAs: httptest.NewRequest("GET", "/api/health", nil)},
		{name: "method not allowed", req: func() *http.Request { return httptest.NewRequest("DELETE", "/api/providers", nil) }, wantStatus: 405,
			validateAs: httptest.NewRequest("GET", "/api/providers", nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			r := c.req()
			w := serve(st.h, r)
			if w.Code != c.wantStatus {
				t.Fatalf("status = %d; want %d; body %.300s", w.Code, c.wantStatus, w.Body.String())
			}
			vr := r
			if c.validateAs != nil {
				vr = c.validateAs
			}
			if ok, errs := v.ValidateHttpResponse(vr, w.Result()); !ok {
				for _, e := range errs {
					t.Errorf("response does not match the document: %s (%s)", e.Message, e.Reason)
				}
			}
		})
	}
	t.Run("own rate limit", func(t *testing.T) {
		cfg := newTestConfig()
		cfg.RateLimitDefault = ratelimit.Rule{Limit: 1, Period: time.Minute}
		h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
		serve(h, httptest.NewRequest("GET", "/api/providers", nil))
		r := httptest.NewRequest("GET", "/api/providers", nil)
		w := serve(h, r)
		if w.Code != 429 {
			t.Fatalf("status %d", w.Code)
		}
		if ok, errs := v.ValidateHttpResponse(r, w.Result()); !ok {
			t.Errorf("429 does not match: %v", errs[0].Message)
		}
	})
}

// TestJobResponsesMatchOpenAPI validates the job endpoints' real answers,
// errors included, against the document.
func TestJobResponsesMatchOpenAPI(t *testing.T) {
	v := newValidator(t)
	cfg := withJobs(t, newTestConfig())
	// The receiver listens on loopback.
	cfg.Jobs.Webhook = webhook.Config{AllowPrivate: true, Schedule: []time.Duration{50 * time.Millisecond}}
	st := newStack(t, cfg, serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	var delivered atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { delivered.Add(1) }))
	defer receiver.Close()
	img := jpegBytes(t, 32, 24, 1)
	check := docChecker(t, v, st.h)
	w := check("submit", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("metadata", `{"a":1}`)), 202)
	id := decodeJob(t, w).ID
	waitJob(t, st.h, id)
	check("get", httptest.NewRequest("GET", "/api/jobs/"+id, nil), 200)
	check("result", httptest.NewRequest("GET", "/api/jobs/"+id+"/results/0", nil), 200)
	check("input", httptest.NewRequest("GET", "/api/jobs/"+id+"/inputs/0", nil), 200)
	check("missing result", httptest.NewRequest("GET", "/api/jobs/"+id+"/results/3", nil), 404)
	check("cancel finished", httptest.NewRequest("DELETE", "/api/jobs/"+id, nil), 409)
	check("unknown", httptest.NewRequest("GET", "/api/jobs/job_nope", nil), 404)
	check("list", httptest.NewRequest("GET", "/api/jobs", nil), 401)
	check("presets", httptest.NewRequest("GET", "/api/presets", nil), 200)
	check("bad preset", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("style", "x")), 400)
	w = check("submit declutter then stage", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("declutter", "true"),
		fieldPart("style", "boho")), 202)
	id = decodeJob(t, w).ID
	waitJob(t, st.h, id)
	if v := decodeJob(t, check("get declutter then stage", httptest.NewRequest("GET", "/api/jobs/"+id, nil), 200)); len(v.Steps) != 2 || len(v.Results) != 2 {
		t.Errorf("two-step job = %+v; want 2 steps, 2 results", v)
	}

	w = check("submit with webhook", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("webhook_url", receiver.URL+"/hook")), 202)
	job := decodeJob(t, w)
	if job.Webhook == nil || job.Webhook.Status != "pending" {
		t.Errorf("submitted job's webhook = %+v; want pending", job.Webhook)
	}
	waitJob(t, st.h, job.ID)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if job = decodeJob(t, serve(st.h, httptest.NewRequest("GET", "/api/jobs/"+job.ID, nil))); job.Webhook.Status != "pending" {
			break
		}
	}
	if *job.Webhook != (jobs.WebhookView{Status: "delivered", Attempts: 1}) || delivered.Load() != 1 {
		t.Errorf("webhook = %+v with %d received; want delivered after 1 attempt", job.Webhook, delivered.Load())
	}
	check("get with webhook", httptest.NewRequest("GET", "/api/jobs/"+job.ID, nil), 200)
}
