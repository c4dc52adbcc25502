package server

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/ratelimit"
)

func fromAddr(r *http.Request, addr string) *http.Request {
	r.RemoteAddr = addr
	return r
}

func TestRateLimitEdits(t *testing.T) {
	cfg := newTestConfig()
	cfg.RateLimitEdit = ratelimit.Rule{Limit: 3, Period: time.Minute}
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 5, Period: time.Minute}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	img := jpegBytes(t, 8, 8, 1)
	for i := 1; i <= 3; i++ {
		w := serve(h, fromAddr(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), "192.0.2.1:1234"))
		if w.Code != 200 {
			t.Fatalf("edit %d = %d; want 200", i, w.Code)
		}
		if got := w.Header().Get("RateLimit-Remaining"); got != strconv.Itoa(3-i) || w.Header().Get("RateLimit-Limit") != "3" {
			t.Errorf("edit %d: RateLimit-Limit %q Remaining %q; want 3 and %d", i, w.Header().Get("RateLimit-Limit"), got, 3-i)
		}
	}
	w := serve(h, fromAddr(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), "192.0.2.1:1234"))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("4th edit = %d; want 429", w.Code)
	}
	if e := decodeError(t, w); e.Code != frameforge.ERateLimited || !strings.Contains(e.Detail, "3 edits per minute") {
		t.Errorf("error = %+v", e)
	}
	if ra := w.Header().Get("Retry-After"); ra != "20" {
		t.Errorf("Retry-After = %q; want 20 (one token of 3/m)", ra)
	}
	if w.Header().Get("RateLimit-Remaining") != "0" || w.Header().Get("RateLimit-Reset") != "60" {
		t.Errorf("RateLimit-Remaining %q Reset %q; want 0 and 60", w.Header().Get("RateLimit-Remaining"), w.Header().Get("RateLimit-Reset"))
	}
	// The other budget is separate, and probes are never limited.
	if w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), "192.0.2.1:1234")); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "5" {
		t.Errorf("providers after edits spent = %d limit %q; want 200 with the default budget 5", w.Code, w.Header().Get("RateLimit-Limit"))
	}
	for range 10 {
		if w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/health", nil), "192.0.2.1:1234")); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
			t.Fatalf("health = %d with RateLimit-Limit %q; probes must not be limited", w.Code, w.Header().Get("RateLimit-Limit"))
		}
	}
	// Another client has its own budget.
	if w := serve(h, fromAddr(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), "192.0.2.2:1234")); w.Code != 200 {
		t.Errorf("another client's edit = %d; want 200", w.Code)
	}
}

func TestTrustedProxies(t *testing.T) {
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 1, Period: time.Minute}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	get := func(remote, xff string) int {
		r := fromAddr(httptest.NewRequest("GET", "/api/providers", nil), remote)
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return serve(h, r).Code
	}
	// Through the trusted proxy, two real clients have two budgets.
	if get("10.1.1.1:5000", "203.0.113.7") != 200 || get("10.1.1.1:5000", "203.0.113.8") != 200 {
		t.Fatal("distinct clients behind a trusted proxy share a budget")
	}
	if get("10.1.1.1:5000", "203.0.113.7") != 429 {
		t.Error("the same client behind the proxy was not limited")
	}
	// A spoofed left-most entry does not help: the proxy appends the real address.
	if get("10.1.1.1:5000", "198.51.100.1, 203.0.113.7") != 429 {
		t.Error("spoofed X-Forwarded-For prefix escaped the limit")
	}
	// From an untrusted address, X-Forwarded-For changes nothing.
	if get("198.51.100.9:5000", "203.0.113.50") != 200 || get("198.51.100.9:5000", "203.0.113.51") != 429 {
		t.Error("an untrusted client changed its identity with X-Forwarded-For")
	}
}

func TestQueueFillsAndDrains(t *testing.T) {
	cfg := newTestConfig()
	cfg.MaxConcurrentEdits, cfg.EditQueueSize, cfg.EditQueueTimeout = 1, 1, 2*time.Second
	st := newStack(t, cfg, serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Delay: 400 * time.Millisecond})
	img := jpegBytes(t, 8, 8, 1)
	codes := make(chan int, 3)
	var wg sync.WaitGroup
	edit := func() {
		defer wg.Done()
		codes <- serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img))).Code
	}
	wg.Add(2)
	go edit()
	st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) // one running
	go edit()                                                                                    // one queued
	waitFor(t, func() bool { return strings.Contains(metricsText(t, st.h), "frameforge_edits_queued 1") })
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img))) // no place left
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("third edit = %d Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if e := decodeError(t, w); e.Code != frameforge.EOverloaded {
		t.Errorf("code = %q; want overloaded", e.Code)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("running/queued edit = %d; want 200 once the queue drained", c)
		}
	}
	if m := metricsText(t, st.h); !strings.Contains(m, "frameforge_edits_in_flight 0") || !strings.Contains(m, `frameforge_edits_refused_total{reason="queue_full"} 1`) {
		t.Errorf("gauges after drain:\n%s", grep(m, "frameforge_edits"))
	}
}

func TestQueueWaitIsBounded(t *testing.T) {
	cfg := newTestConfig()
	cfg.MaxConcurrentEdits, cfg.EditQueueSize, cfg.EditQueueTimeout = 1, 4, 100*time.Millisecond
	st := newStack(t, cfg, serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Delay: 2 * time.Second})
	img := jpegBytes(t, 8, 8, 1)
	go serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img)))
	st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 })
	start := time.Now()
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img)))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(decodeError(t, w).Detail, "100ms") {
		t.Errorf("queued edit = %d %s; want 503 after the 100ms queue timeout", w.Code, w.Body.String())
	}
	if d := time.Since(start); d > 3*time.Second { // generous: a loaded CI machine
		t.Errorf("waited %s; want about 100ms", d)
	}
}

func TestMetricsMove(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	serve(st.h, httptest.NewRequest("GET", "/api/health", nil))
	serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 8, 8, 1))))
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.RateLimited})
	serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 8, 8, 1))))
	m := metricsText(t, st.h)
	for _, want := range []string{
		`frameforge_http_requests_total{method="GET",route="GET /api/health",status="200"} 1`,
		`frameforge_http_requests_total{method="POST",route="POST /api/edit",status="200"} 1`,
		`frameforge_http_requests_total{method="POST",route="POST /api/edit",status="429"} 1`,
		`frameforge_provider_calls_total{outcome="ok",provider="google"} 1`,
		`frameforge_provider_calls_total{outcome="upstream_rate_limited",provider="google"} 1`,
		`frameforge_provider_call_duration_seconds_count{provider="google"} 2`,
		`frameforge_http_request_duration_seconds_count{route="POST /api/edit"} 2`,
		"frameforge_edits_in_flight 0",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !regexp.MustCompile(`frameforge_http_response_bytes_total [1-9]`).MatchString(m) || !regexp.MustCompile(`frameforge_http_request_bytes_total [1-9]`).MatchString(m) {
		t.Error("byte counters did not move")
	}
}

func TestReadiness(t *testing.T) {
	var draining bool
	h := newHandler(discardLogger(), newTestConfig(), registry(provider.Entry{ServerKey: "k"}, provider.Entry{}), func() bool { return draining })
	w := serve(h, httptest.NewRequest("GET", "/api/ready", nil))
	if w.Code != 200 || !contains(w.Body.String(), `"status":"ready"`, `"google":true`, `"fal":false`) {
		t.Errorf("ready = %d %s", w.Code, w.Body.String())
	}
	draining = true
	if w := serve(h, httptest.NewRequest("GET", "/api/ready", nil)); w.Code != 503 || !strings.Contains(w.Body.String(), "draining") {
		t.Errorf("ready while draining = %d %s; want 503 draining", w.Code, w.Body.String())
	}
	if w := serve(h, httptest.NewRequest("GET", "/api/health", nil)); w.Body.String() != `{"status":"ok"}` {
		t.Errorf("health changed while draining: %s", w.Body.String())
	}
}

func TestCompression(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	r := httptest.NewRequest("GET", "/api/providers", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := serve(h, r)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("JSON not compressed: headers %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !strings.Contains(string(body), `"default":"google"`) {
		t.Errorf("decompressed body = %s", body)
	}
	img := jpegBytes(t, 200, 200, 1)
	r = editRequest(t, "/api/edit", filePart("image", "a.jpg", img))
	r.Header.Set("Accept-Encoding", "gzip")
	if w := serve(h, r); w.Header().Get("Content-Encoding") != "" || w.Body.Len() != len(img) {
		t.Errorf("image was recompressed (Content-Encoding %q)", w.Header().Get("Content-Encoding"))
	}
}

func metricsText(tb testing.TB, h http.Handler) string {
	tb.Helper()
	w := serve(h, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		tb.Fatalf("/metrics = %d", w.Code)
	}
	return w.Body.String()
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A body that trickles in (a byte every 100 ms) is cut off with 408 once
// the grace period has passed, well before READ_TIMEOUT, and its admission
// place is free again at once; a normal upload through the same real
// listener is untouched.
func TestTricklingUploadIs408(t *testing.T) {
	cfg := newTestConfig()
	cfg.MaxConcurrentEdits, cfg.EditQueueSize = 1, 0 // one place: the trickler holds it
	cfg.Upload = UploadRate{MinRate: 1 << 10, Grace: 300 * time.Millisecond, ReadTimeout: time.Minute}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = time.Minute
	srv.Start()
	defer srv.Close()

	body, ct := multipartBody(t, filePart("image", "a.jpg", jpegBytes(t, 64, 64, 1)))
	b, _ := readAll(body)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/edit HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(b))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(b); i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	var e errorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusRequestTimeout || e.Code != "request_timeout" || !strings.Contains(e.Detail, "too slow") {
		t.Errorf("trickle = %d %+v; want 408 request_timeout saying the upload is too slow", resp.StatusCode, e)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("answered after %s; want soon after the grace period", d)
	}

	// The place is free again, and a normal upload passes.
	body, ct = multipartBody(t, filePart("image", "b.jpg", jpegBytes(t, 64, 64, 2)))
	res, err := http.Post(srv.URL+"/api/edit", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("normal upload after the trickler = %d; want 200", res.StatusCode)
	}
}

// A client that sends its whole request and then half-closes its side of
// the connection (legal HTTP) makes net/http cancel the request; it still
// waits for an answer, and must get a JSON error, never an empty 200.
func TestHalfCloseGetsAnAnswer(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 5 * time.Second})
	srv := httptest.NewServer(st.h)
	defer srv.Close()
	body, ct := multipartBody(t, filePart("image", "a.jpg", jpegBytes(t, 32, 32, 1)))
	b, _ := readAll(body)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/edit HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(b))
	conn.Write(b)
	if !st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		t.Fatal("the edit never reached the provider")
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	var e errorBody
	if resp.StatusCode == http.StatusOK && len(got) == 0 {
		t.Fatal("empty 200 for a half-closed client")
	}
	if err := json.Unmarshal(got, &e); resp.StatusCode != http.StatusServiceUnavailable || err != nil || e.Code != "interrupted" {
		t.Errorf("half-closed client got %d %q; want 503 interrupted", resp.StatusCode, got)
	}
}

// A handler that returns without writing is answered with a JSON 500 by the
// recoverer, never an empty 200.
func TestNoEmptyAnswer(t *testing.T) {
	h := withRecover(discardLogger())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := serve(h, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":"internal_error"`) {
		t.Errorf("silent handler = %d %q; want a JSON 500", w.Code, w.Body.String())
	}
}

// The minimum upload rate applies while the body is read, not after: an
// edit whose provider takes longer than the grace period and the rate
// allow for its few bytes still gets its image.
func TestMinRateEndsWithTheBody(t *testing.T) {
	cfg := newTestConfig()
	cfg.Upload = UploadRate{MinRate: 1 << 10, Grace: 200 * time.Millisecond, ReadTimeout: time.Minute}
	st := newStack(t, cfg, serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 2 * time.Second})
	srv := httptest.NewUnstartedServer(st.h)
	srv.Config.ReadTimeout = time.Minute
	srv.Start()
	defer srv.Close()
	body, ct := multipartBody(t, filePart("image", "a.jpg", jpegBytes(t, 64, 64, 1)))
	res, err := http.Post(srv.URL+"/api/edit", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Errorf("slow provider after a quick upload = %d %s; want 200", res.StatusCode, b)
	}
}
