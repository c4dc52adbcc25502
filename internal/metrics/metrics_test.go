package metrics

import (
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape is what a Prometheus server would read from the handler.
func scrape(tb testing.TB, m *Metrics) string {
	tb.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		tb.Fatalf("scrape = %d; want 200", w.Code)
	}
	return w.Body.String()
}

// series returns the scraped sample lines of metric name, labels included.
func series(text, name string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			out = append(out, l)
		}
	}
	return out
}

func TestScrapeShowsWhatWasRecorded(t *testing.T) {
	m := New(Gauges{EditsRunning: func() int { return 2 }, EditsWaiting: func() int { return 3 }})
	m.ObserveRequest("POST /api/edit", "POST", 200, 1000, 300, 2*time.Second)
	m.ObserveRequest("POST /api/edit", "POST", 200, -1, 200, time.Second) // no Content-Length: counts nothing in
	m.ObserveRequest("unmatched", "GET", 404, 0, 50, time.Millisecond)
	m.ObserveProvider("gemini", "ok", 3*time.Second)
	m.ObserveProvider("fal", "upstream_timeout", time.Minute)
	m.RateLimited("edit")
	m.RateLimited("edit")
	m.EditRefused("queue_full")
	text := scrape(t, m)

	for _, want := range []string{
		`frameforge_http_requests_total{method="POST",route="POST /api/edit",status="200"} 2`,
		`frameforge_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`frameforge_http_request_duration_seconds_count{route="POST /api/edit"} 2`,
		`frameforge_http_request_duration_seconds_sum{route="POST /api/edit"} 3`,
		`frameforge_http_request_bytes_total 1000`,
		`frameforge_http_response_bytes_total 550`,
		`frameforge_provider_calls_total{outcome="ok",provider="gemini"} 1`,
		`frameforge_provider_calls_total{outcome="upstream_timeout",provider="fal"} 1`,
		`frameforge_provider_call_duration_seconds_sum{provider="fal"} 60`,
		`frameforge_rate_limited_total{budget="edit"} 2`,
		`frameforge_edits_refused_total{reason="queue_full"} 1`,
		`frameforge_edits_in_flight 2`,
		`frameforge_edits_queued 3`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// The runtime and process collectors are there too (heap, goroutines).
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if len(series(text, name)) == 0 {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

func TestGaugesAreOptional(t *testing.T) {
	text := scrape(t, New(Gauges{}))
	if len(series(text, "frameforge_edits_in_flight")) != 0 || len(series(text, "frameforge_edits_queued")) != 0 {
		t.Error("edit gauges exported without a source")
	}
}

func TestMethodLabel(t *testing.T) {
	tests := []struct{ method, want string }{
		{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"}, {"PATCH", "PATCH"},
		{"DELETE", "DELETE"}, {"OPTIONS", "OPTIONS"},
		{"get", "other"}, {"CONNECT", "other"}, {"TRACE", "other"}, {"PROPFIND", "other"}, {"", "other"},
		{strings.Repeat("X", 20<<10), "other"},
	}
	for _, tt := range tests {
		if got := MethodLabel(tt.method); got != tt.want {
			t.Errorf("MethodLabel(%.20q) = %q; want %q", tt.method, got, tt.want)
		}
	}
}

// TestRandomMethodsDoNotGrowTheScrape replays the attack: many requests,
// each with its own long made-up method. The scrape must not keep any of
// them.
func TestRandomMethodsDoNotGrowTheScrape(t *testing.T) {
	m := New(Gauges{})
	rnd := rand.New(rand.NewPCG(1, 2))
	method := func() string {
		b := make([]byte, 2<<10)
		for i := range b {
			b[i] = 'A' + byte(rnd.IntN(26))
		}
		return string(b)
	}
	m.ObserveRequest("unmatched", "GET", 405, 0, 10, time.Millisecond)
	m.ObserveRequest("unmatched", method(), 405, 0, 10, time.Millisecond)
	before := len(series(scrape(t, m), "frameforge_http_requests_total"))
	for range 1000 {
		m.ObserveRequest("unmatched", method(), 405, 0, 10, time.Millisecond)
	}
	text := scrape(t, m)
	got := series(text, "frameforge_http_requests_total")
	if len(got) != before || len(got) != 2 {
		t.Fatalf("request series after 1000 made-up methods = %d; want 2 (GET and other), was %d", len(got), before)
	}
	if want := `frameforge_http_requests_total{method="other",route="unmatched",status="405"} 1001`; !strings.Contains(text, want) {
		t.Errorf("scrape lacks %q; has %q", want, got)
	}
	if len(text) > 64<<10 {
		t.Errorf("scrape is %d bytes; want well under 64 KiB", len(text))
	}
}
