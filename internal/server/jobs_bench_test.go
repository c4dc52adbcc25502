package server

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/pgtest"
	"frameforge/internal/provider/gemini/geminitest"
)

// The job figures of docs/performance.md. Run with
//
//	FRAMEFORGE_TEST_DATABASE_URL=$(scripts/postgres.sh url) \
//	go test -run '^$' -bench 'Job|EditRoundTrip' -benchtime 200x ./internal/server/
//
// (without the variable the PostgreSQL halves are skipped). The provider is
// the in-process Gemini fake answering at once, so the figures are our
// overhead: parse, check, prepare, store, queue, run, store, answer.

func benchStack(b *testing.B, store string, workers int, sc geminitest.Scenario) *stack {
	cfg := withJobs(b, newTestConfig())
	cfg.Limits.MaxImageBytes, cfg.Limits.MaxRequestBytes = 8<<20, 8<<20
	cfg.Jobs.Workers = workers
	cfg.MaxConcurrentEdits, cfg.EditQueueSize = 64, 64
	if store == "postgres" {
		cfg.JobsDatabaseURL = pgtest.FreshSchema(b)
	}
	st := newStack(b, cfg, serverKeys{google: true})
	st.gemini.SetDefault(sc)
	return st
}

func multipartPhoto(b *testing.B, img []byte) ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.jpg")
	fw.Write(img)
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkJobRoundTrip is submit → succeeded through POST /api/jobs with
// Prefer: wait, one at a time.
func BenchmarkJobRoundTrip(b *testing.B) {
	img := imagingtest.JPEG(b, imagingtest.Photo(b, 640, 480), 85)
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			st := benchStack(b, store, 4, geminitest.Scenario{Kind: geminitest.ImageOnly})
			body, ct := multipartPhoto(b, img)
			var d []time.Duration
			b.ResetTimer()
			for range b.N {
				r := httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(body))
				r.Header.Set("Content-Type", ct)
				r.Header.Set("Prefer", "wait=60")
				start := time.Now()
				w := serve(st.h, r)
				d = append(d, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("job = %d %s", w.Code, w.Body.String())
				}
			}
			reportPercentiles(b, d)
		})
	}
}

// BenchmarkEditRoundTrip is the same photo through POST /api/edit.
func BenchmarkEditRoundTrip(b *testing.B) {
	img := imagingtest.JPEG(b, imagingtest.Photo(b, 640, 480), 85)
	st := benchStack(b, "sqlite", 4, geminitest.Scenario{Kind: geminitest.ImageOnly})
	body, ct := multipartPhoto(b, img)
	var d []time.Duration
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest("POST", "/api/edit", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		start := time.Now()
		w := serve(st.h, r)
		d = append(d, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("edit = %d", w.Code)
		}
	}
	reportPercentiles(b, d)
}

// BenchmarkJobThroughput submits b.N jobs at once and waits for all: jobs
// per second through the queue with an instant provider.
func BenchmarkJobThroughput(b *testing.B) {
	img := imagingtest.JPEG(b, imagingtest.Photo(b, 320, 240), 85)
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			st := benchStack(b, store, 16, geminitest.Scenario{Kind: geminitest.ImageOnly})
			body, ct := multipartPhoto(b, img)
			ids := make([]string, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				r := httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(body))
				r.Header.Set("Content-Type", ct)
				// 202, or 200 when the job already ended (PostgreSQL's
				// workers, woken at once, can finish one that fast).
				w := serve(st.h, r)
				if w.Code != http.StatusAccepted && w.Code != http.StatusOK {
					b.Fatalf("submit = %d %s", w.Code, w.Body.String())
				}
				ids = append(ids, decodeJob(b, w).ID)
			}
			for _, id := range ids {
				for {
					w := serve(st.h, httptest.NewRequest("GET", "/api/jobs/"+id, nil))
					if bytes.Contains(w.Body.Bytes(), []byte(`"status":"succeeded"`)) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
		})
	}
}

// BenchmarkQueuedJobMemory submits b.N jobs of a ~2 MB photo to a provider
// that does not answer, so they all wait, and reports the heap they hold:
// their photos wait on disk, so it must not grow with the queue.
func BenchmarkQueuedJobMemory(b *testing.B) {
	img := imagingtest.JPEG(b, imagingtest.Photo(b, 2400, 1800), 92)
	st := benchStack(b, "sqlite", 1, geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: time.Hour})
	body, ct := multipartPhoto(b, img)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		submitJob(b, st.h, r)
	}
	b.StopTimer()
	after := heap()
	b.ReportMetric(float64(len(img))/(1<<20), "photo-MB")
	b.ReportMetric(float64(int64(after)-int64(before))/(1<<20), "heap-growth-MB")
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "heap-B/job")
	fmt.Printf("queued %d jobs of %.1f MB: heap %.1f → %.1f MB\n", b.N, float64(len(img))/(1<<20), float64(before)/(1<<20), float64(after)/(1<<20))
}
