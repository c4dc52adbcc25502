package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frameforge/internal/jobs"
	"frameforge/internal/provider/gemini/geminitest"
)

func decodeJob(t testing.TB, w *httptest.ResponseRecorder) jobs.View {
	t.Helper()
	var v jobs.View
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("job body %q: %v", w.Body.String(), err)
	}
	return v
}

// waitJob polls GET /api/jobs/{id} until the job ends.
func waitJob(t *testing.T, h http.Handler, id string) jobs.View {
	t.Helper()
	return waitJobWith(t, h, id, "")
}

// readJobEvents reads an event stream's data lines as job views until the
// stream ends, then closes the channel.
func readJobEvents(body io.Reader, buffer int) <-chan jobs.View {
	events := make(chan jobs.View, buffer)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v jobs.View
				if json.Unmarshal([]byte(data), &v) == nil {
					events <- v
				}
			}
		}
	}()
	return events
}

func TestJobLifecycleOverHTTP(t *testing.T) {
	st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	photo := sidewaysPhoto(t, 160, 80) // with EXIF orientation and GPS: stored upright and without them
	r := editRequest(t, "/api/jobs", filePart("image", "room.jpg", photo), fieldPart("room_type", "living-room"),
		fieldPart("style", "scandinavian"), fieldPart("variations", "2"), fieldPart("metadata", `{"listing":"4711"}`))
	w := serve(st.h, r)
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s; want 202", w.Code, w.Body.String())
	}
	v := decodeJob(t, w)
	if w.Header().Get("Location") != "/api/jobs/"+v.ID || !strings.HasPrefix(v.ID, "job_") || len(v.ID) < 30 ||
		(v.Status != jobs.StatusQueued && v.Status != jobs.StatusRunning) || v.Variations != 2 || !strings.Contains(v.Prompt, "Scandinavian") ||
		string(v.Metadata) != `{"listing":"4711"}` || len(v.Results) != 0 || v.Links.Events != "/api/jobs/"+v.ID+"/events" {
		t.Fatalf("submitted job = %+v (Location %q)", v, w.Header().Get("Location"))
	}
	done := waitJob(t, st.h, v.ID)
	if done.Status != jobs.StatusSucceeded || len(done.Results) != 2 || done.Attempts != 1 {
		t.Fatalf("job = %+v; want succeeded with 2 results", done)
	}
	res := serve(st.h, httptest.NewRequest("GET", done.Results[1].URL, nil))
	if res.Code != 200 || res.Header().Get("Content-Type") != "image/png" || res.Body.Len() == 0 {
		t.Errorf("result = %d %q %d bytes", res.Code, res.Header().Get("Content-Type"), res.Body.Len())
	}
	in := serve(st.h, httptest.NewRequest("GET", done.Inputs[0].URL, nil))
	if in.Code != 200 || bytes.Contains(in.Body.Bytes(), []byte("Exif")) {
		t.Errorf("input = %d, carries EXIF %v; want the prepared photo", in.Code, bytes.Contains(in.Body.Bytes(), []byte("Exif")))
	}
	if b := decodeImage(t, in.Body.Bytes()).Bounds(); b.Dx() != 80 || b.Dy() != 160 {
		t.Errorf("stored input is %dx%d; want 80x160 (upright)", b.Dx(), b.Dy())
	}
	// Every call the provider got carried the composed prompt.
	for _, req := range st.gemini.Requests() {
		var prompt string
		for _, p := range req.Parts() {
			prompt += p.Text
		}
		if !strings.Contains(prompt, "Scandinavian") {
			t.Errorf("provider prompt %q lacks the style", prompt)
		}
	}
	if w := serve(st.h, httptest.NewRequest("DELETE", "/api/jobs/"+v.ID, nil)); w.Code != 409 || !strings.Contains(w.Body.String(), "job_finished") {
		t.Errorf("cancel after the end = %d %s; want 409 job_finished", w.Code, w.Body.String())
	}
	m := serve(st.h, httptest.NewRequest("GET", "/metrics", nil)).Body.String()
	for _, series := range []string{`frameforge_jobs_finished_total{outcome="succeeded"} 1`, "frameforge_jobs_queued 0",
		"frameforge_jobs_running 0", "frameforge_job_queue_wait_seconds_count 1", "frameforge_job_run_seconds_count 1",
		"frameforge_jobs_oldest_queued_age_seconds 0"} {
		if !strings.Contains(m, series) {
			t.Errorf("/metrics lacks %q", series)
		}
	}
}

func TestJobRefusalsAreSynchronous(t *testing.T) {
	st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
	img := jpegBytes(t, 32, 24, 1)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"not an image", editRequest(t, "/api/jobs", filePart("image", "a.txt", []byte("hello there"))), 400, "invalid_image"},
		{"no image", editRequest(t, "/api/jobs", fieldPart("prompt", "x")), 400, "missing_image"},
		{"unknown preset", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("style", "gothic")), 400, "invalid_preset"},
		{"variations", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("variations", "5")), 400, "invalid_request"},
		{"metadata", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("metadata", "[1,2]")), 400, "invalid_request"},
		{"webhook", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("webhook_url", "ftp://x")), 400, "invalid_webhook_url"},
		{"webhook on loopback", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("webhook_url", "https://127.0.0.1/hook")), 400, "invalid_webhook_url"},
		{"webhook on localhost", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("webhook_url", "https://localhost:8443/hook")), 400, "invalid_webhook_url"},
		{"webhook to metadata", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("webhook_url", "https://169.254.169.254/latest")), 400, "invalid_webhook_url"},
		{"provider", editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("provider", "dall-e")), 400, "unknown_provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(st.h, tt.req)
			if e := decodeError(t, w); w.Code != tt.status || e.Code != tt.code {
				t.Errorf("= %d %s; want %d %s", w.Code, e.Code, tt.status, tt.code)
			}
		})
	}
	if n := len(st.gemini.Requests()); n != 0 {
		t.Errorf("%d provider calls; want none", n)
	}
	r := editRequest(t, "/api/jobs", filePart("image", "a.jpg", img))
	r.Header.Set("Idempotency-Key", strings.Repeat("k", 300))
	if w := serve(st.h, r); !strings.Contains(w.Body.String(), "invalid_idempotency_key") || w.Code != 400 {
		t.Errorf("long key = %d %s", w.Code, w.Body.String())
	}
	if w := serve(st.h, httptest.NewRequest("GET", "/api/jobs", nil)); w.Code != 401 || !strings.Contains(w.Body.String(), "token_required") {
		t.Errorf("list = %d %s; want 401 token_required", w.Code, w.Body.String())
	}
}

func TestJobIdempotencyAndPreferWait(t *testing.T) {
	st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	img := jpegBytes(t, 32, 24, 1)
	submit := func(key, prompt string) *httptest.ResponseRecorder {
		r := editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("prompt", prompt))
		r.Header.Set("Idempotency-Key", key)
		r.Header.Set("Prefer", "wait=20")
		return serve(st.h, r)
	}
	first := submit("key-1", "stage it")
	if first.Code != 200 || decodeJob(t, first).Status != jobs.StatusSucceeded || first.Header().Get("Preference-Applied") != "wait=20" {
		t.Fatalf("Prefer: wait = %d %s; want 200 with the finished job", first.Code, first.Body.String())
	}
	again := submit("key-1", "stage it")
	if again.Code != 200 || again.Header().Get("Idempotent-Replayed") != "true" || decodeJob(t, again).ID != decodeJob(t, first).ID {
		t.Errorf("replay = %d %s", again.Code, again.Body.String())
	}
	if w := submit("key-1", "something else"); w.Code != 422 || !strings.Contains(w.Body.String(), "idempotency_key_reused") {
		t.Errorf("other request, same key = %d %s; want 422", w.Code, w.Body.String())
	}
	if n := len(st.gemini.Requests()); n != 1 {
		t.Errorf("%d provider calls; want 1", n)
	}
}

func TestJobEventsAndCancel(t *testing.T) {
	st := newStack(t, withJobs(t, newTestConfig()), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 30 * time.Second})
	srv := httptest.NewServer(st.h)
	defer srv.Close()
	w := serve(st.h, editRequest(t, "/api/jobs", filePart("image", "a.jpg", jpegBytes(t, 32, 24, 1))))
	id := decodeJob(t, w).ID
	resp, err := http.Get(srv.URL + "/api/jobs/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events Content-Type = %q", ct)
	}
	events := readJobEvents(resp.Body, 16)
	next := func(want jobs.Status) {
		t.Helper()
		for {
			select {
			case v, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %s", want)
				}
				if v.Status == want {
					return
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no %s event", want)
			}
		}
	}
	next(jobs.StatusRunning)
	if !st.gemini.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		t.Fatal("the job never reached the provider")
	}
	// A client that goes away never cancels a job; DELETE does.
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/api/jobs/"+id, nil).WithContext(ctx)
	cancel()
	serve(st.h, r)
	if w := serve(st.h, httptest.NewRequest("DELETE", "/api/jobs/"+id, nil)); w.Code != 200 || decodeJob(t, w).Status != jobs.StatusCancelled {
		t.Fatalf("cancel = %d %s", w.Code, w.Body.String())
	}
	next(jobs.StatusCancelled)
	select {
	case _, ok := <-events:
		if ok {
			t.Error("an event after the terminal one")
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end after the terminal event")
	}
	if !st.gemini.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 && rs[0].Cancelled }) {
		t.Error("the provider call was not cancelled")
	}
	if w := serve(st.h, httptest.NewRequest("GET", "/api/jobs/"+id+"/results/0", nil)); w.Code != 404 || !strings.Contains(w.Body.String(), "result_not_found") {
		t.Errorf("result of a cancelled job = %d %s; want 404 result_not_found", w.Code, w.Body.String())
	}
}

// submitJob posts r and returns the new job's id.
func submitJob(t testing.TB, h http.Handler, r *http.Request) string {
	t.Helper()
	w := serve(h, r)
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s", w.Code, w.Body.String())
	}
	return decodeJob(t, w).ID
}
