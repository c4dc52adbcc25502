package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"frameforge/internal/auth"
	"frameforge/internal/jobs"
	"frameforge/internal/pgtest"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/ratelimit"
)

// tokenStack is the real server with jobs and tokens, the fake Gemini
// answering images, and the given AUTH mode.
func tokenStack(t *testing.T, mode auth.Mode, keys serverKeys, mod ...func(*testConfig)) (*stack, *tokenSlot) {
	t.Helper()
	cfg := withJobs(t, newTestConfig())
	cfg.Auth = mode
	for _, m := range mod {
		m(&cfg)
	}
	st := newStack(t, cfg, keys)
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	return st, cfg.tokens
}

// withToken sends secret as the request's bearer token ("" sends none).
func withToken(r *http.Request, secret string) *http.Request {
	if secret != "" {
		r.Header.Set("Authorization", "Bearer "+secret)
	}
	return r
}

func usageOf(t *testing.T, h http.Handler, secret string) (quota, used, remaining *int64, byProvider map[string]int64) {
	t.Helper()
	w := serve(h, withToken(httptest.NewRequest("GET", "/api/usage", nil), secret))
	if w.Code != 200 {
		t.Fatalf("usage = %d %s", w.Code, w.Body.String())
	}
	var u struct {
		Quota, Used, Remaining *int64
		ByProvider             map[string]int64 `json:"by_provider"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
		t.Fatal(err)
	}
	return u.Quota, u.Used, u.Remaining, u.ByProvider
}

// In AUTH=required the image routes and the client's own routes need a
// valid token; everything else stays open. The 401 says why, with
// WWW-Authenticate: Bearer, and never quotes the token.
func TestAuthRequiredGuardsImageWork(t *testing.T) {
	st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
	img := jpegBytes(t, 32, 24, 1)
	good, _ := tokens.create(t, auth.NewToken{})
	revoked, revokedID := tokens.create(t, auth.NewToken{})
	if err := tokens.store.Revoke(t.Context(), revokedID); err != nil {
		t.Fatal(err)
	}
	expired, _ := tokens.create(t, auth.NewToken{Expires: time.Millisecond})
	time.Sleep(5 * time.Millisecond)
	unknown := auth.Prefix + strings.Repeat("Z", 43)

	for _, path := range []string{"/api/health", "/api/ready", "/api/providers", "/api/presets", "/api/openapi.json", "/api/docs", "/metrics", "/"} {
		if w := serve(st.h, httptest.NewRequest("GET", path, nil)); w.Code != 200 {
			t.Errorf("GET %s without a token = %d; want 200 (open in every mode)", path, w.Code)
		}
	}
	var prov struct{ Auth string }
	_ = json.Unmarshal(serve(st.h, httptest.NewRequest("GET", "/api/providers", nil)).Body.Bytes(), &prov)
	if prov.Auth != "required" {
		t.Errorf("providers auth = %q; want required", prov.Auth)
	}

	protected := []func() *http.Request{
		func() *http.Request { return editRequest(t, "/api/edit", filePart("image", "a.jpg", img)) },
		func() *http.Request { return editRequest(t, "/api/jobs", filePart("image", "a.jpg", img)) },
		func() *http.Request { return httptest.NewRequest("GET", "/api/jobs", nil) },
		func() *http.Request { return httptest.NewRequest("GET", "/api/jobs/job_x", nil) },
		func() *http.Request { return httptest.NewRequest("GET", "/api/jobs/job_x/events", nil) },
		func() *http.Request { return httptest.NewRequest("GET", "/api/usage", nil) },
	}
	tests := []struct {
		name, secret, header, wantDetail string
	}{
		{"missing", "", "", "needs an API token"},
		{"not valid", unknown, "Authorization", "not valid"},
		// Not "abc": a request id is hex and once held it, and the
		// answer seemed to quote the token.
		{"not valid in X-API-Key", "not-a-token", "X-API-Key", "not valid"},
		{"revoked", revoked, "X-API-Key", "revoked"},
		{"expired", expired, "Authorization", "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mk := range protected {
				r := mk()
				switch tt.header {
				case "Authorization":
					r.Header.Set("Authorization", "Bearer "+tt.secret)
				case "X-API-Key":
					r.Header.Set("X-API-Key", tt.secret)
				}
				w := serve(st.h, r)
				e := decodeError(t, w)
				if w.Code != 401 || e.Code != "unauthorized" || w.Header().Get("WWW-Authenticate") != "Bearer" || !strings.Contains(e.Detail, tt.wantDetail) {
					t.Errorf("%s %s = %d %q %+v; want 401 unauthorized, WWW-Authenticate: Bearer, detail saying %q",
						r.Method, r.URL.Path, w.Code, w.Header().Get("WWW-Authenticate"), e, tt.wantDetail)
				}
				if tt.secret != "" && strings.Contains(w.Body.String(), tt.secret) {
					t.Errorf("the answer quotes the token: %s", w.Body.String())
				}
			}
		})
	}
	for _, h := range []string{"Authorization", "X-API-Key"} {
		r := editRequest(t, "/api/edit", filePart("image", "a.jpg", img))
		if h == "Authorization" {
			r.Header.Set(h, "Bearer "+good)
		} else {
			r.Header.Set(h, good)
		}
		if w := serve(st.h, r); w.Code != 200 || w.Header().Get(FallbackHeader) != "" {
			t.Errorf("edit with a valid token in %s = %d %.200s; want 200 from the provider", h, w.Code, w.Body.String())
		}
	}
	// The token's secret never reaches a log line or a metric.
	metricsBody := serve(st.h, httptest.NewRequest("GET", "/metrics", nil)).Body.String()
	for _, s := range []string{good, revoked, expired, unknown} {
		if strings.Contains(st.logs.String(), s) || strings.Contains(metricsBody, s) {
			t.Errorf("a token appears in the logs or the metrics")
		}
	}
}

// In AUTH=off nothing needs a token, but a token that is sent is checked
// and used; a Bearer value without ff_ is still a fal key (compat), and a
// Bearer ff_ token is never sent to fal as a key.
func TestAuthOffChecksTokensThatAreSent(t *testing.T) {
	st, tokens := tokenStack(t, auth.Off, serverKeys{google: true})
	img := jpegBytes(t, 32, 24, 1)
	good, _ := tokens.create(t, auth.NewToken{})
	if w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img))); w.Code != 200 {
		t.Errorf("edit without a token = %d; want 200", w.Code)
	}
	var prov struct{ Auth string }
	_ = json.Unmarshal(serve(st.h, httptest.NewRequest("GET", "/api/providers", nil)).Body.Bytes(), &prov)
	if prov.Auth != "off" {
		t.Errorf("providers auth = %q; want off", prov.Auth)
	}
	bad := withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), auth.Prefix+strings.Repeat("q", 43))
	if w := serve(st.h, bad); w.Code != 401 || decodeError(t, w).Code != "unauthorized" {
		t.Errorf("edit with an unknown token in AUTH=off = %d; want 401 unauthorized", w.Code)
	}
	if w := serve(st.h, withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), good)); w.Code != 200 {
		t.Fatalf("edit with a token = %d", w.Code)
	}
	if _, used, _, by := usageOf(t, st.h, good); *used != 1 || by["google"] != 1 {
		t.Errorf("usage after one edit = %d %v; want 1, google 1", *used, by)
	}
	// Bearer ff_… is our token, not a fal key: fal (no server key) falls back.
	w := serve(st.h, withToken(editRequest(t, "/api/edit?provider=fal:fal-ai/flux-kontext/dev", filePart("image", "a.jpg", img)), good))
	if w.Code != 200 || w.Header().Get(FallbackHeader) == "" || len(st.fal.Requests()) != 0 {
		t.Errorf("fal edit with Bearer ff_ = %d fallback %q, %d fal calls; want the fallback (the token is no fal key)",
			w.Code, w.Header().Get(FallbackHeader), len(st.fal.Requests()))
	}
	// Bearer without ff_ keeps its compat meaning: a fal key.
	r := editRequest(t, "/api/edit?provider=fal:fal-ai/flux-kontext/dev", filePart("image", "a.jpg", img))
	r.Header.Set("Authorization", "Bearer "+st.fal.Key)
	if w := serve(st.h, r); w.Code != 200 || w.Header().Get(FallbackHeader) != "" {
		t.Errorf("fal edit with Bearer <fal key> = %d fallback %q; want 200 from fal", w.Code, w.Header().Get(FallbackHeader))
	}
	// Usage without a token: 401 token_required.
	if w := serve(st.h, httptest.NewRequest("GET", "/api/usage", nil)); w.Code != 401 || decodeError(t, w).Code != "token_required" {
		t.Errorf("usage without a token = %d; want 401 token_required", w.Code)
	}
}

// Ten concurrent edits against three units left: exactly three run, seven
// are refused with 429 quota_exceeded saying when the period resets. On
// SQLite and on PostgreSQL.
func TestQuotaReservationIsExactUnderConcurrency(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			var url string
			if store == "postgres" {
				url = pgtest.FreshSchema(t)
			}
			st, tokens := tokenStack(t, auth.Required, serverKeys{google: true}, func(c *testConfig) { c.JobsDatabaseURL = url })
			st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 50 * time.Millisecond})
			secret, _ := tokens.create(t, auth.NewToken{Quota: 3})
			img := jpegBytes(t, 32, 24, 1)
			var mu sync.Mutex
			codes := map[int]int{}
			var details []string
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					w := serve(st.h, withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), secret))
					mu.Lock()
					defer mu.Unlock()
					codes[w.Code]++
					if w.Code == 429 {
						details = append(details, w.Body.String()+" X-Quota-Remaining="+w.Header().Get("X-Quota-Remaining"))
					}
				})
			}
			wg.Wait()
			if codes[200] != 3 || codes[429] != 7 {
				t.Fatalf("10 concurrent edits against a quota of 3 = %v; want 3×200, 7×429", codes)
			}
			_, end := auth.Month.Bounds(tokenNow())
			for _, d := range details {
				if !strings.Contains(d, "quota_exceeded") || !strings.Contains(d, end.Format(time.RFC3339)) || !strings.HasSuffix(d, "X-Quota-Remaining=0") {
					t.Errorf("refusal = %s; want quota_exceeded naming the reset %s, X-Quota-Remaining 0", d, end.Format(time.RFC3339))
				}
			}
			quota, used, remaining, by := usageOf(t, st.h, secret)
			if *quota != 3 || *used != 3 || *remaining != 0 || by["google"] != 3 {
				t.Errorf("usage = quota %d used %d remaining %d by %v; want 3, 3, 0, google 3", *quota, *used, *remaining, by)
			}
		})
	}
}

// Failed and development-fallback edits use no unit; the X-Quota-Remaining
// header counts down with each successful edit.
func TestQuotaCountsOnlySuccessfulEdits(t *testing.T) {
	st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
	secret, _ := tokens.create(t, auth.NewToken{Quota: 2, Period: auth.Day})
	img := jpegBytes(t, 32, 24, 1)
	edit := func(target string) *httptest.ResponseRecorder {
		return serve(st.h, withToken(editRequest(t, target, filePart("image", "a.jpg", img)), secret))
	}
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.PromptBlocked})
	if w := edit("/api/edit"); w.Code != 422 {
		t.Fatalf("blocked edit = %d", w.Code)
	}
	if w := edit("/api/edit?provider=fal:fal-ai/flux-kontext/dev"); w.Code != 200 || w.Header().Get(FallbackHeader) == "" {
		t.Fatalf("fallback edit = %d", w.Code)
	}
	if _, used, _, _ := usageOf(t, st.h, secret); *used != 0 {
		t.Errorf("used after a failed and a fallback edit = %d; want 0", *used)
	}
	for _, want := range []string{"1", "0"} {
		if w := edit("/api/edit"); w.Code != 200 || w.Header().Get("X-Quota-Remaining") != want {
			t.Errorf("edit = %d, X-Quota-Remaining %q; want 200, %s", w.Code, w.Header().Get("X-Quota-Remaining"), want)
		}
	}
	w := edit("/api/edit")
	_, end := auth.Day.Bounds(tokenNow())
	if e := decodeError(t, w); w.Code != 429 || e.Code != "quota_exceeded" || !strings.Contains(e.Detail, end.Format(time.RFC3339)) || w.Header().Get("Retry-After") == "" {
		t.Errorf("third edit = %d %+v; want 429 quota_exceeded naming %s, with Retry-After", w.Code, e, end.Format(time.RFC3339))
	}
}

// A job reserves a unit per variation at submission; one that fails or is
// cancelled gives them back, one that succeeds keeps them.
func TestJobQuotaReservedAndSettled(t *testing.T) {
	st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
	secret, _ := tokens.create(t, auth.NewToken{Quota: 3})
	img := jpegBytes(t, 32, 24, 1)
	submit := func(variations string) *httptest.ResponseRecorder {
		return serve(st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "a.jpg", img), fieldPart("variations", variations)), secret))
	}
	if w := submit("4"); w.Code != 429 || decodeError(t, w).Code != "quota_exceeded" {
		t.Fatalf("4 variations against 3 units = %d; want 429 quota_exceeded", w.Code)
	}
	waitUsed := func(want int64) {
		t.Helper()
		var used *int64
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, used, _, _ = usageOf(t, st.h, secret); *used == want {
				return
			}
		}
		t.Errorf("used = %d; want %d", *used, want)
	}
	// A refusal fails the job at once: its 3 units come back.
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.PromptBlocked})
	w := submit("3")
	if w.Code != 202 || w.Header().Get("X-Quota-Remaining") != "0" {
		t.Fatalf("submit 3 = %d, X-Quota-Remaining %q; want 202, 0", w.Code, w.Header().Get("X-Quota-Remaining"))
	}
	if v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret); v.Status != jobs.StatusFailed {
		t.Fatalf("job = %s; want failed", v.Status)
	}
	waitUsed(0)
	// Cancelled while running: units back.
	st.gemini.Script(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 5 * time.Second})
	w = submit("2")
	id := decodeJob(t, w).ID
	waitUsed(2)
	if !st.gemini.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) >= 2 }) {
		t.Fatal("the job never reached the provider")
	}
	if w := serve(st.h, withToken(httptest.NewRequest("DELETE", "/api/jobs/"+id, nil), secret)); w.Code != 200 {
		t.Fatalf("cancel = %d %s", w.Code, w.Body.String())
	}
	waitUsed(0)
	// Succeeded: both variations count.
	w = submit("2")
	if v := waitJobWith(t, st.h, decodeJob(t, w).ID, secret); v.Status != jobs.StatusSucceeded {
		t.Fatalf("job = %s; want succeeded", v.Status)
	}
	waitUsed(2)
	if _, _, _, by := usageOf(t, st.h, secret); by["google"] != 2 {
		t.Errorf("by_provider = %v; want google 2", by)
	}
}

// waitJobWith polls the job with the token secret ("" for none) until it ends.
func waitJobWith(t *testing.T, h http.Handler, id, secret string) jobs.View {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		w := serve(h, withToken(httptest.NewRequest("GET", "/api/jobs/"+id, nil), secret))
		if w.Code != 200 {
			t.Fatalf("GET job = %d %s", w.Code, w.Body.String())
		}
		if v := decodeJob(t, w); v.Status.Terminal() {
			return v
		}
	}
	t.Fatal("job did not end within 30 s")
	return jobs.View{}
}

// A job belongs to the token that made it: any other caller gets 404 on
// every job route, and GET /api/jobs lists the caller's jobs only.
func TestJobsBelongToTheirToken(t *testing.T) {
	st, tokens := tokenStack(t, auth.Off, serverKeys{google: true})
	alice, _ := tokens.create(t, auth.NewToken{Name: "alice"})
	bob, _ := tokens.create(t, auth.NewToken{Name: "bob"})
	img := jpegBytes(t, 32, 24, 1)
	id := submitJob(t, st.h, withToken(editRequest(t, "/api/jobs", filePart("image", "a.jpg", img)), alice))
	waitJobWith(t, st.h, id, alice)
	anonID := submitJob(t, st.h, editRequest(t, "/api/jobs", filePart("image", "a.jpg", img)))

	paths := []struct{ method, path string }{
		{"GET", "/api/jobs/" + id}, {"GET", "/api/jobs/" + id + "/results/0"}, {"GET", "/api/jobs/" + id + "/inputs/0"},
		{"GET", "/api/jobs/" + id + "/events"}, {"DELETE", "/api/jobs/" + id},
	}
	for _, p := range paths {
		for _, who := range []string{bob, ""} {
			r := httptest.NewRequest(p.method, p.path, nil)
			if who != "" {
				withToken(r, who)
			}
			if w := serve(st.h, r); w.Code != 404 || decodeError(t, w).Code != "job_not_found" {
				t.Errorf("%s %s by another caller (token %v) = %d; want 404 job_not_found", p.method, p.path, who != "", w.Code)
			}
		}
	}
	for _, p := range paths[:3] {
		if w := serve(st.h, withToken(httptest.NewRequest(p.method, p.path, nil), alice)); w.Code != 200 {
			t.Errorf("%s %s by its owner = %d; want 200", p.method, p.path, w.Code)
		}
	}
	list := func(secret string) (ids []string) {
		w := serve(st.h, withToken(httptest.NewRequest("GET", "/api/jobs", nil), secret))
		if w.Code != 200 {
			t.Fatalf("list = %d %s", w.Code, w.Body.String())
		}
		var page struct {
			Data []jobs.View
			Next *string
		}
		_ = json.Unmarshal(w.Body.Bytes(), &page)
		for _, v := range page.Data {
			ids = append(ids, v.ID)
		}
		return ids
	}
	if got := list(alice); len(got) != 1 || got[0] != id {
		t.Errorf("alice's list = %v; want [%s]", got, id)
	}
	if got := list(bob); len(got) != 0 {
		t.Errorf("bob's list = %v; want none", got)
	}
	// A job made without a token stays a capability: its id is enough.
	if w := serve(st.h, withToken(httptest.NewRequest("GET", "/api/jobs/"+anonID, nil), bob)); w.Code != 200 {
		t.Errorf("a job made without a token, read with one = %d; want 200", w.Code)
	}
	if w := serve(st.h, httptest.NewRequest("GET", "/api/jobs", nil)); w.Code != 401 || decodeError(t, w).Code != "token_required" {
		t.Errorf("list without a token = %d; want 401 token_required", w.Code)
	}
}

// The edit budget counts edits admitted toward a provider: refused uploads
// cost nothing. A token's own rate replaces RATE_LIMIT_EDIT for its edits.
func TestEditBudgetCountsAdmittedWork(t *testing.T) {
	st, tokens := tokenStack(t, auth.Off, serverKeys{google: true}, func(c *testConfig) {
		c.RateLimitEdit = ratelimit.Rule{Limit: 1, Period: time.Hour}
	})
	img := jpegBytes(t, 32, 24, 1)
	for i := range 5 {
		if w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.txt", []byte("not an image")))); w.Code != 400 {
			t.Fatalf("bad upload %d = %d; want 400", i, w.Code)
		}
		if w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img), fieldPart("provider", "midjourney"))); w.Code != 400 {
			t.Fatalf("unknown provider %d = %d; want 400", i, w.Code)
		}
	}
	if w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img))); w.Code != 200 || w.Header().Get("RateLimit-Remaining") != "0" {
		t.Fatalf("first good edit after refused uploads = %d (RateLimit-Remaining %q); want 200, 0", w.Code, w.Header().Get("RateLimit-Remaining"))
	}
	if w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", img))); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("second good edit = %d; want 429 with Retry-After", w.Code)
	}
	fast, _ := tokens.create(t, auth.NewToken{Rate: ratelimit.Rule{Limit: 3, Period: time.Hour}})
	for i := range 4 {
		w := serve(st.h, withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), fast))
		want := 200
		if i == 3 {
			want = 429
		}
		if w.Code != want || w.Header().Get("RateLimit-Limit") != "3" {
			t.Errorf("edit %d with a 3/h token = %d, RateLimit-Limit %q; want %d, 3", i+1, w.Code, w.Header().Get("RateLimit-Limit"), want)
		}
	}
}

func TestUsageShape(t *testing.T) {
	st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
	secret, id := tokens.create(t, auth.NewToken{Name: "listing-app"})
	w := serve(st.h, withToken(httptest.NewRequest("GET", "/api/usage", nil), secret))
	start, end := auth.Month.Bounds(tokenNow())
	want := fmt.Sprintf(`{"token":{"id":%q,"name":"listing-app"},"period":{"start":%q,"end":%q},"quota":null,"used":0,"remaining":null,"by_provider":{}}`,
		id, start.Format(time.RFC3339), end.Format(time.RFC3339))
	if got := strings.TrimSpace(w.Body.String()); w.Code != 200 || got != want {
		t.Errorf("usage = %d %s; want %s", w.Code, got, want)
	}
}

// The token answers match the OpenAPI document.
func TestTokenResponsesMatchOpenAPI(t *testing.T) {
	v := newValidator(t)
	st, tokens := tokenStack(t, auth.Required, serverKeys{google: true})
	secret, _ := tokens.create(t, auth.NewToken{Quota: 1})
	img := jpegBytes(t, 32, 24, 1)
	check := docChecker(t, v, st.h)
	check("providers", httptest.NewRequest("GET", "/api/providers", nil), 200)
	check("edit without token", editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), 401)
	check("usage without token", httptest.NewRequest("GET", "/api/usage", nil), 401)
	check("edit", withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), secret), 200)
	check("edit over quota", withToken(editRequest(t, "/api/edit", filePart("image", "a.jpg", img)), secret), 429)
	check("job over quota", withToken(editRequest(t, "/api/jobs", filePart("image", "a.jpg", img)), secret), 429)
	check("usage", withToken(httptest.NewRequest("GET", "/api/usage", nil), secret), 200)
	check("list", withToken(httptest.NewRequest("GET", "/api/jobs", nil), secret), 200)
	check("list bad limit", withToken(httptest.NewRequest("GET", "/api/jobs?limit=0", nil), secret), 400)
}
