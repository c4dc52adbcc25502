package server

import (
	"bytes"
	"image"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frameforge/internal/auth"
	"frameforge/internal/disclosure"
	"frameforge/internal/jobs"
	"frameforge/internal/presets"
	"frameforge/internal/provider/gemini/geminitest"
)

// declutterStack is the real server with jobs, tokens, the fake Gemini and
// DISCLOSURE=optional, and a token without a quota (its units are its
// usage).
func declutterStack(t *testing.T) (*stack, string) {
	t.Helper()
	st, tokens := tokenStack(t, auth.Off, serverKeys{google: true}, func(c *testConfig) {
		*c = withDisclosure(*c, disclosure.Optional)
	})
	secret, _ := tokens.create(t, auth.NewToken{})
	return st, secret
}

// promptOf is the text a provider call carried.
func promptOf(r geminitest.Request) string {
	var s string
	for _, p := range r.Parts() {
		s += p.Text
	}
	return s
}

// imageOf is the first image a provider call carried, as the fake got it
// (after the server prepared it).
func imageOf(t *testing.T, r geminitest.Request) []byte {
	t.Helper()
	for _, p := range r.Parts() {
		if len(p.Data) > 0 {
			return p.Data
		}
	}
	t.Fatal("the provider call carried no image")
	return nil
}

func fetchResult(t *testing.T, h http.Handler, secret, url string) []byte {
	t.Helper()
	w := serve(h, withToken(httptest.NewRequest("GET", url, nil), secret))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

// jobEvents follows a job's event stream and returns the views it sends.
func jobEvents(t *testing.T, url, secret string) <-chan jobs.View {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return readJobEvents(resp.Body, 64)
}

// declutter=true with a style: the fake sees the declutter call, then one
// stage call per variation whose photo is the declutter answer; both kinds
// of result are kept and served, only the staged ones labelled; the token
// is charged a unit per result.
func TestDeclutterThenStageJob(t *testing.T) {
	st, secret := declutterStack(t)
	// Slow enough answers that the event stream sees each step run.
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 300 * time.Millisecond})
	srv := httptest.NewServer(st.h)
	defer srv.Close()
	w := serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 1)),
		fieldPart("declutter", "true"), fieldPart("room_type", "living-room"), fieldPart("style", "scandinavian"),
		fieldPart("variations", "2"), fieldPart("disclosure", "true")), secret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s; want 202", w.Code, w.Body.String())
	}
	sub := decodeJob(t, w)
	if len(sub.Steps) != 2 || sub.Steps[0].Name != "declutter" || sub.Steps[1].Name != "stage" ||
		sub.Steps[0].Prompt != presets.Default().Declutter.Prompt || !strings.Contains(sub.Steps[1].Prompt, "Scandinavian") ||
		sub.Prompt != sub.Steps[1].Prompt || sub.Variations != 2 || !sub.Disclosure {
		t.Fatalf("submitted job = %+v", sub)
	}
	events := jobEvents(t, srv.URL+sub.Links.Events, secret)
	var running []string
	var done jobs.View
	for v := range events {
		if v.Status == jobs.StatusRunning && v.Step != "" && (len(running) == 0 || running[len(running)-1] != v.Step) {
			running = append(running, v.Step)
		}
		done = v
	}
	if strings.Join(running, ",") != "declutter,stage" {
		t.Errorf("running steps in the event stream = %v; want declutter, then stage", running)
	}
	if done.Status != jobs.StatusSucceeded || len(done.Results) != 3 || done.Step != "" {
		t.Fatalf("job = %+v; want succeeded with 3 results", done)
	}
	for i, s := range done.Steps {
		if s.Status != "succeeded" {
			t.Errorf("step %d = %+v; want succeeded", i, s)
		}
	}

	calls := st.gemini.Requests()
	if len(calls) != 3 {
		t.Fatalf("%d provider calls; want 3 (declutter, 2 staged)", len(calls))
	}
	if p := promptOf(calls[0]); !strings.Contains(p, "Remove all furniture") || strings.Contains(p, "Scandinavian") {
		t.Errorf("first call's prompt %q; want the declutter preset's", p)
	}
	decluttered := calls[0].ImageSent
	for _, c := range calls[1:] {
		if p := promptOf(c); !strings.Contains(p, "Scandinavian") || strings.Contains(p, "Remove all furniture") {
			t.Errorf("stage call's prompt %q; want the composed style prompt", p)
		}
		if !bytes.Equal(imageOf(t, c), decluttered) {
			t.Error("a stage call's photo is not the declutter answer (unlabelled, as the fake sent it)")
		}
	}

	// results/0 is the declutter answer, unlabelled; results/1 and /2 the
	// staged answers with the label drawn.
	r0 := done.Results[0]
	if r0.Step != "declutter" || r0.Labelled || r0.URL != "/api/jobs/"+done.ID+"/results/0" {
		t.Errorf("result 0 = %+v; want the unlabelled declutter result", r0)
	}
	if got := fetchResult(t, st.h, secret, r0.URL); !bytes.Equal(got, decluttered) {
		t.Error("results/0 is not the declutter answer as the provider sent it")
	}
	for i, r := range done.Results[1:] {
		if r.Step != "stage" || !r.Labelled {
			t.Errorf("result %d = %+v; want a labelled stage result", i+1, r)
		}
		got := fetchResult(t, st.h, secret, r.URL)
		answer := calls[i+1].ImageSent
		if bytes.Equal(got, answer) {
			t.Errorf("results/%d is the provider's answer unchanged; want it labelled", i+1)
		}
		assertLabelled(t, decodeImage(t, got), decodeImage(t, answer))
	}

	if _, used, _, by := usageOf(t, st.h, secret); *used != 3 || by["google"] != 3 {
		t.Errorf("usage = %d, %v; want 3 units (declutter + 2 staged)", *used, by)
	}
}

// assertLabelled checks got is want with the label in the bottom-right
// corner: the corner changed, the centre and the top-left untouched, the
// size the same.
func assertLabelled(t *testing.T, got, want image.Image) {
	t.Helper()
	b := want.Bounds()
	if got.Bounds() != b {
		t.Fatalf("labelled %v, answer %v", got.Bounds(), b)
	}
	same := func(x, y int) bool {
		r1, g1, b1, _ := got.At(x, y).RGBA()
		r2, g2, b2, _ := want.At(x, y).RGBA()
		return r1 == r2 && g1 == g2 && b1 == b2
	}
	if !same(b.Dx()/2, b.Dy()/2) || !same(0, 0) {
		t.Error("the label changed the picture outside its corner")
	}
	changed := false
	for y := b.Dy() * 3 / 4; y < b.Dy() && !changed; y++ {
		for x := b.Dx() / 2; x < b.Dx() && !changed; x++ {
			changed = !same(x, y)
		}
	}
	if !changed {
		t.Error("no label in the bottom-right corner")
	}
}

// The stage step failing for good fails the job: every unit comes back,
// and the declutter result the job did make is not served.
func TestDeclutterStageRefused(t *testing.T) {
	st, secret := declutterStack(t)
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.ImageOnly}, geminitest.Scenario{Kind: geminitest.PromptBlocked})
	w := serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 1)),
		fieldPart("declutter", "true"), fieldPart("style", "boho")), secret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s", w.Code, w.Body.String())
	}
	v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret)
	if v.Status != jobs.StatusFailed || v.Error == nil || v.Error.Code != "content_blocked" || len(v.Results) != 0 {
		t.Fatalf("job = %+v; want failed content_blocked, no results", v)
	}
	if len(v.Steps) != 2 || v.Steps[0].Status != "succeeded" || v.Steps[1].Status != "failed" {
		t.Errorf("steps = %+v; want declutter succeeded, stage failed", v.Steps)
	}
	if n := len(st.gemini.Requests()); n != 2 {
		t.Errorf("%d provider calls; want 2", n)
	}
	r := serve(st.h, withToken(httptest.NewRequest("GET", "/api/jobs/"+v.ID+"/results/0", nil), secret))
	if e := decodeError(t, r); r.Code != http.StatusNotFound || e.Code != "result_not_found" {
		t.Errorf("results/0 of the failed job = %d %+v; want 404 result_not_found", r.Code, e)
	}
	if _, used, _, _ := usageOf(t, st.h, secret); *used != 0 {
		t.Errorf("used = %d; want 0 (a failed job gives its units back)", *used)
	}
}

// A retryable failure of the stage step retries the stage step only: the
// stored declutter result is read back and staged, not made again.
func TestDeclutterRetryResumesAtStage(t *testing.T) {
	st, secret := declutterStack(t)
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.ImageOnly},
		geminitest.Scenario{Kind: geminitest.RateLimited, OmitRetryInfo: true})
	w := serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 1)),
		fieldPart("declutter", "true"), fieldPart("prompt", "Stage it as a reading room")), secret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s", w.Code, w.Body.String())
	}
	v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret)
	if v.Status != jobs.StatusSucceeded || v.Attempts != 2 || len(v.Results) != 2 {
		t.Fatalf("job = %+v; want succeeded at the second attempt with 2 results", v)
	}
	calls := st.gemini.Requests()
	if len(calls) != 3 {
		t.Fatalf("%d provider calls; want 3 (declutter, stage refused, stage)", len(calls))
	}
	for i, c := range calls[1:] {
		if p := promptOf(c); p != "Stage it as a reading room" {
			t.Errorf("call %d prompt %q; want the stage prompt (the declutter step is not run again)", i+2, p)
		}
		if !bytes.Equal(imageOf(t, c), calls[0].ImageSent) {
			t.Errorf("call %d's photo is not the stored declutter result", i+2)
		}
	}
	if got := fetchResult(t, st.h, secret, v.Results[1].URL); !bytes.Equal(got, calls[2].ImageSent) {
		t.Error("results/1 is not the staged answer")
	}
	if _, used, _, _ := usageOf(t, st.h, secret); *used != 2 {
		t.Errorf("used = %d; want 2", *used)
	}
}

// declutter=true alone is one step: the room emptied, one call per
// variation, each result labelled with its step.
func TestDeclutterOnlyJob(t *testing.T) {
	st, secret := declutterStack(t)
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	photo := jpegBytes(t, 64, 48, 1)
	w := serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", photo),
		fieldPart("declutter", "true"), fieldPart("prompt", "  ")), secret))
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit = %d %s", w.Code, w.Body.String())
	}
	v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret)
	want := presets.Default().Declutter.Prompt
	if v.Status != jobs.StatusSucceeded || v.Prompt != want || len(v.Results) != 1 || v.Results[0].Step != "declutter" ||
		v.Results[0].Labelled || v.Disclosure || len(v.Steps) != 1 || v.Steps[0].Status != "succeeded" {
		t.Fatalf("job = %+v", v)
	}
	calls := st.gemini.Requests()
	if len(calls) != 1 || promptOf(calls[0]) != want {
		t.Fatalf("%d calls; want one with the declutter prompt", len(calls))
	}
	if got := fetchResult(t, st.h, secret, v.Results[0].URL); !bytes.Equal(got, calls[0].ImageSent) {
		t.Error("results/0 is not the provider's answer")
	}
	if _, used, _, _ := usageOf(t, st.h, secret); *used != 1 {
		t.Errorf("used = %d; want 1", *used)
	}
}

// A plain job with disclosure=true: every result labelled, the job says so,
// the stored input stays unlabelled.
func TestJobDisclosure(t *testing.T) {
	st, secret := declutterStack(t)
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	w := serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 1)),
		fieldPart("style", "modern"), fieldPart("disclosure", "true")), secret))
	if w.Code != http.StatusAccepted || !decodeJob(t, w).Disclosure {
		t.Fatalf("submit = %d %s; want 202 with disclosure true", w.Code, w.Body.String())
	}
	v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret)
	if v.Status != jobs.StatusSucceeded || !v.Disclosure || len(v.Results) != 1 || !v.Results[0].Labelled ||
		v.Results[0].Step != "" || len(v.Steps) != 0 {
		t.Fatalf("job = %+v; want succeeded, disclosure true, one labelled result, no steps", v)
	}
	answer := st.gemini.Requests()[0].ImageSent
	assertLabelled(t, decodeImage(t, fetchResult(t, st.h, secret, v.Results[0].URL)), decodeImage(t, answer))
	in := fetchResult(t, st.h, secret, v.Inputs[0].URL)
	if !bytes.Equal(in, imageOf(t, st.gemini.Requests()[0])) {
		t.Error("the stored input is not the photo the provider got")
	}
	// Without disclosure=true (DISCLOSURE=optional) nothing is drawn.
	w = serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "room.jpg", jpegBytes(t, 64, 48, 2))), secret))
	v = waitJobWith(t, st.h, decodeJob(t, w).ID, secret)
	if v.Disclosure || v.Results[0].Labelled {
		t.Errorf("job = %+v; want no label", v)
	}
	if got := fetchResult(t, st.h, secret, v.Results[0].URL); !bytes.Equal(got, st.gemini.Requests()[1].ImageSent) {
		t.Error("an unlabelled result differs from the provider's answer")
	}
}
