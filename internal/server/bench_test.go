package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/logging"
	"frameforge/internal/provider"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/fal/faltest"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/gemini/geminitest"
)

// The edit benchmarks run the fake providers in a child process, so that
// B/op counts FrameForge's allocations only, not the fake's decoding.

const childEnv = "FRAMEFORGE_BENCH_FAKE"

// TestFakeUpstreamChild is not a test: it is the child process of the edit
// benchmarks. It serves both fakes and prints their URLs and keys.
func TestFakeUpstreamChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("only runs as the benchmarks' child process")
	}
	g := geminitest.NewServer(t, geminitest.NoRecord(), geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly}))
	f := faltest.New(t)
	fmt.Printf("FAKES %s %s %s %s\n", g.URL, g.Key, f.URL, f.Key)
	io.Copy(io.Discard, os.Stdin) // serve until the parent closes our stdin
}

type childFakes struct{ geminiURL, geminiKey, falURL, falKey string }

func startChildFakes(b *testing.B) childFakes {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeUpstreamChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 5 && f[0] == "FAKES" {
			go io.Copy(io.Discard, stdout)
			return childFakes{f[1], f[2], f[3], f[4]}
		}
	}
	b.Fatal("child fakes did not start")
	return childFakes{}
}

// benchHandler is the real server with both providers pointed at the child's
// fakes, logging to nowhere.
func benchHandler(b *testing.B, fk childFakes) http.Handler {
	log := logging.New(io.Discard, "json", slog.LevelInfo)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL = fk.geminiURL
	fcfg := fal.NewDefaultConfig()
	fcfg.QueueURL, fcfg.RestURL = fk.falURL, fk.falURL
	fcfg.PollInitial = time.Millisecond
	reg := registry(
		provider.Entry{Provider: gemini.New(gcfg, hc, log), ServerKey: fk.geminiKey, Model: gcfg.Model},
		provider.Entry{Provider: fal.New(fcfg, hc, log), ServerKey: fk.falKey})
	return newHandler(log, benchConfig(), reg, nil)
}

// phoneJPEG12MP is a 4000×3000 photo-like JPEG with EXIF and GPS, upright:
// the common case, which takes the strip-only fast path.
func phoneJPEG12MP(b *testing.B) []byte {
	b.Helper()
	return imagingtest.WithEXIF(imagingtest.JPEG(b, imagingtest.Photo(b, 4000, 3000), 90), 1, true)
}

// benchEdit posts the same upload b.N times through the real handler and
// reports time and bytes allocated per edit; "x-input" is B/op as a multiple
// of the input file.
func benchEdit(b *testing.B, h http.Handler, target string, img []byte) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.jpg")
	fw.Write(img)
	mw.Close()
	payload, ct := body.Bytes(), mw.FormDataContentType()
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	var ms0, ms1 runtimeMem
	ms0.read()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(payload))
		r.Header.Set("Content-Type", ct)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.StopTimer()
	ms1.read()
	b.ReportMetric(float64(ms1.alloc-ms0.alloc)/float64(b.N)/float64(len(img)), "x-input")
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// does not count a recorder's copy of the answer.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func benchConfig() testConfig {
	cfg := newTestConfig()
	cfg.Limits.MaxImageBytes, cfg.Limits.MaxRequestBytes, cfg.Limits.MaxPixels = 40<<20, 40<<20, 100_000_000
	cfg.UpstreamBytes = 14 << 20
	return cfg
}

// BenchmarkEditGemini12MP is the whole edit path (parse, check, prepare,
// Gemini SDK call, answer) for a 12 MP phone photo.
func BenchmarkEditGemini12MP(b *testing.B) {
	benchEdit(b, benchHandler(b, startChildFakes(b)), "/api/edit", phoneJPEG12MP(b))
}

// BenchmarkEditFal12MP is the same through the fal queue (the photo goes to
// fal storage first, being over the inline threshold).
func BenchmarkEditFal12MP(b *testing.B) {
	benchEdit(b, benchHandler(b, startChildFakes(b)), "/api/edit?provider=fal:fal-ai/nano-banana/edit", phoneJPEG12MP(b))
}

// BenchmarkEditFallback2MB is the no-key path: parse, check, echo.
func BenchmarkEditFallback2MB(b *testing.B) {
	h, _ := newTestServer(b, benchConfig(), provider.Entry{}, provider.Entry{})
	benchEdit(b, h, "/api/edit", imagingtest.JPEG(b, imagingtest.Photo(b, 1800, 1350), 97))
}
