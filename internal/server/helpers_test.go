package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"frameforge/internal/admission"
	"frameforge/internal/auth"
	"frameforge/internal/blobstore"
	"frameforge/internal/imaging"
	"frameforge/internal/jobs"
	"frameforge/internal/logging"
	"frameforge/internal/logging/logtest"
	"frameforge/internal/metrics"
	"frameforge/internal/pipeline"
	"frameforge/internal/presets"
	"frameforge/internal/provider"
	"frameforge/internal/secret"
)

// logBuffer collects log output from concurrent goroutines.
type logBuffer = logtest.Buffer

// testConfig is the HTTP layer's config and what run gives the pipeline
// and the admission gate, in one value so a test can change any of it.
type testConfig struct {
	Config
	editConfig
	MaxConcurrentEdits int
	EditQueueSize      int
	EditQueueTimeout   time.Duration
	// Jobs, when set, opens a job engine in a temporary DATA_DIR (the job
	// routes exist only then): on SQLite, or on JobsDatabaseURL when set.
	Jobs            *jobs.Config
	JobsDatabaseURL string
	tb              testing.TB
	// RateLimiter, when set, keeps the rate budgets (shared through Redis).
	RateLimiter RateLimiter
	// tokens receives the token store opened beside the jobs (withJobs).
	tokens *tokenSlot
}

// tokenSlot is where newHandler leaves the token store, for tests to make
// tokens in.
type tokenSlot struct{ store *auth.Store }

// create makes a token and returns its secret and id.
func (ts *tokenSlot) create(tb testing.TB, n auth.NewToken) (secret, id string) {
	tb.Helper()
	if n.Name == "" {
		n.Name = "test"
	}
	if n.Quota == 0 {
		n.Quota = auth.NoQuota
	}
	tok, secret, err := ts.store.Create(context.Background(), n)
	if err != nil {
		tb.Fatal(err)
	}
	return secret, tok.ID
}

// editConfig is the pipeline's config, named so testConfig can embed both.
type editConfig = pipeline.Config

func newTestConfig() testConfig {
	return testConfig{
		Config: Config{
			Limits: Limits{
				MaxImageBytes:   2 << 20,
				MaxRequestBytes: 5 << 20,
				MaxImages:       3,
				MaxPixels:       40_000_000,
			},
			AllowedOrigins: []string{"*"},
			EditTimeout:    5 * time.Second,
			RequestTimeout: 5 * time.Second,
		},
		editConfig: editConfig{
			Prepare:      imaging.Options{MaxSide: 4096},
			MaxPixels:    40_000_000,
			DecodeMemory: 1 << 30,
		},
		MaxConcurrentEdits: 16,
		EditQueueSize:      16,
		EditQueueTimeout:   time.Second,
	}
}

// newHandler wires the real server as run does: gate, metrics, pipeline.
func newHandler(log *slog.Logger, cfg testConfig, reg *provider.Registry, draining func() bool) http.Handler {
	gate := admission.New(cfg.MaxConcurrentEdits, cfg.EditQueueSize, cfg.EditQueueTimeout)
	m := metrics.New(metrics.Gauges{EditsRunning: gate.Running, EditsWaiting: gate.Waiting})
	pc := cfg.editConfig
	pc.SlotTimeout = cfg.EditQueueTimeout // as config.Load does
	pipe := pipeline.New(pc, gate, m, log)
	d := Deps{Registry: reg, Pipeline: pipe, Metrics: m, Draining: draining, Presets: presets.Default(),
		RateLimiter: cfg.RateLimiter}
	if cfg.Jobs != nil {
		e, tokens := openTestJobs(cfg.tb, cfg.JobsDatabaseURL, *cfg.Jobs, reg, pipe, m, log)
		d.Jobs, d.Tokens = e.Service, tokens
		if cfg.tokens != nil {
			cfg.tokens.store = tokens
		}
	}
	return NewServer(log, cfg.Config, d)
}

// openTestJobs starts a job engine on SQLite in a temporary DATA_DIR (or
// on dbURL), with the token store beside it as run wires them, stopped when
// the test ends.
func openTestJobs(tb testing.TB, dbURL string, c jobs.Config, reg *provider.Registry, pipe *pipeline.Pipeline, m *metrics.Metrics, log *slog.Logger) (*jobs.Engine, *auth.Store) {
	tb.Helper()
	dir := tb.TempDir()
	blobs, err := blobstore.Open(context.Background(), "", dir)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := secret.Load("", dir, "secret_key")
	if err != nil {
		tb.Fatal(err)
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := jobs.Open(context.Background(), dbURL, dir, c, jobs.Deps{Registry: reg, Pipeline: pipe, Blobs: blobs,
		Sealer: sealer, Log: log, Register: m.Register})
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := auth.Open(context.Background(), e.DB(), e.Kind(), auth.WithClock(tokenNow))
	if err != nil {
		tb.Fatal(err)
	}
	e.UseQuota(tokens)
	if err := e.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
	})
	return e, tokens
}

// withJobs turns the job routes on, with quick retries.
func withJobs(tb testing.TB, cfg testConfig) testConfig {
	cfg.tb = tb
	cfg.tokens = &tokenSlot{}
	cfg.Jobs = &jobs.Config{ResultTTL: time.Hour, Workers: 2, MaxAttempts: 2, RetryBackoff: 10 * time.Millisecond,
		RescueAfter: time.Minute, EditTimeout: 10 * time.Second, IdemWindow: time.Hour}
	return cfg
}

// registry is the built-in table with the given implementations and keys
// (a zero Entry: no implementation, no server key).
func registry(google, fal provider.Entry) *provider.Registry {
	google.Spec, fal.Spec = provider.Google(), provider.Fal()
	return provider.NewRegistry(google, fal)
}

// newTestServer returns the real handler with no provider keys (every
// provider answers with the development fallback) and the captured log.
func newTestServer(tb testing.TB, cfg testConfig, google, fal provider.Entry) (http.Handler, *logBuffer) {
	tb.Helper()
	logs := &logBuffer{}
	log := logging.New(logs, "json", slog.LevelDebug)
	return newHandler(log, cfg, registry(google, fal), nil), logs
}

// part is one multipart part of a test request.
type part struct {
	field, filename, contentType string
	data                         []byte
}

func filePart(field, name string, data []byte) part {
	return part{field: field, filename: name, contentType: "application/octet-stream", data: data}
}

func fieldPart(field, value string) part { return part{field: field, data: []byte(value)} }

func multipartBody(tb testing.TB, parts ...part) (io.Reader, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", p.contentType)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"`)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

func editRequest(tb testing.TB, target string, parts ...part) *http.Request {
	tb.Helper()
	body, ct := multipartBody(tb, parts...)
	r := httptest.NewRequest(http.MethodPost, target, body)
	r.Header.Set("Content-Type", ct)
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeError checks that a response is a JSON error and returns it.
func decodeError(tb testing.TB, w *httptest.ResponseRecorder) errorBody {
	tb.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type = %q; want application/json (body %q)", ct, w.Body.String())
	}
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		tb.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	if e.Detail == "" || e.Code == "" || e.RequestID == "" {
		tb.Fatalf("error body %q lacks detail, code or request_id", w.Body.String())
	}
	if e.RequestID != w.Header().Get("X-Request-ID") {
		tb.Fatalf("request_id %q differs from X-Request-ID %q", e.RequestID, w.Header().Get("X-Request-ID"))
	}
	return e
}

// pattern returns a w×h image with a colour distinct per seed, so tests can
// tell uploads apart after a round trip.
func pattern(w, h int, seed uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{seed, uint8(x), uint8(y), 255})
		}
	}
	return img
}

func jpegBytes(tb testing.TB, w, h int, seed uint8) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, pattern(w, h, seed), &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func pngBytes(tb testing.TB, w, h int, seed uint8) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, pattern(w, h, seed)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testStart is when this test binary started.
var testStart = time.Now()

// tokenNow is the token stores' clock in these tests: it runs from noon on
// the 15th of this month, so a test that happens to run across midnight at
// a period's end does not see its usage split between two periods.
func tokenNow() time.Time {
	y, m, _ := testStart.UTC().Date()
	return time.Date(y, m, 15, 12, 0, 0, 0, time.UTC).Add(time.Since(testStart))
}
