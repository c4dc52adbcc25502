package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/webhook"
)

// receiver is a real HTTP endpoint that records deliveries and answers
// with the scripted statuses (the last one repeats; 0 hangs until the
// test ends).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivery
	statuses []int
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	done := make(chan struct{})
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, delivery{r.Header.Clone(), body})
		status := rc.statuses[min(n, len(rc.statuses)-1)]
		rc.mu.Unlock()
		if status == 0 {
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(done); rc.Close() })
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// verifySignature checks a delivery as the specification describes it,
// independently of the library that signed it.
func verifySignature(t *testing.T, key []byte, d delivery) {
	t.Helper()
	id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(d.body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.header.Get("webhook-signature") != want {
		t.Errorf("webhook-signature = %q; want %q", d.header.Get("webhook-signature"), want)
	}
}

// waitWebhook waits until the job's delivery is no longer pending.
func (r *rig) waitWebhook(t *testing.T, id string) *Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := r.e.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.WebhookStatus != WebhookPending || time.Now().After(deadline) {
			return rec
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) scrape(t *testing.T) string {
	w := httptest.NewRecorder()
	r.metrics.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

func webhookConfig(schedule ...time.Duration) Config {
	return Config{Webhook: webhook.Config{AllowPrivate: true, Schedule: schedule, Timeout: 2 * time.Second}}
}

func TestWebhookDeliveredSigned(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, webhookConfig(50*time.Millisecond))
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		rc := newReceiver(t, 204)
		rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL + "/hook" })
		if v := r.e.View(context.Background(), rec); v.Webhook == nil || *v.Webhook != (WebhookView{"pending", 0}) {
			t.Errorf("webhook in the submitted job = %+v; want pending, 0 attempts", v.Webhook)
		}
		r.waitEnd(t, rec.ID)
		done := r.waitWebhook(t, rec.ID)
		if done.WebhookStatus != WebhookDelivered || done.WebhookAttempts != 1 {
			t.Fatalf("webhook = %s after %d attempts; want delivered after 1", done.WebhookStatus, done.WebhookAttempts)
		}
		if v := r.e.View(context.Background(), done); v.Webhook == nil || *v.Webhook != (WebhookView{"delivered", 1}) {
			t.Errorf("webhook in the job object = %+v; want delivered, 1", v.Webhook)
		}
		got := rc.deliveries()
		if len(got) != 1 {
			t.Fatalf("%d deliveries; want 1", len(got))
		}
		d := got[0]
		key, _ := webhook.LoadSecret("", r.dataDir)
		verifySignature(t, key, d)
		if id := d.header.Get("webhook-id"); id != "msg_"+rec.ID+"_job.succeeded" || d.header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook-id %q, Content-Type %q", id, d.header.Get("Content-Type"))
		}
		var ev struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
			Data      View      `json:"data"`
		}
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "job.succeeded" || ev.Data.ID != rec.ID || ev.Data.Status != StatusSucceeded || len(ev.Data.Results) != 1 ||
			ev.Timestamp.IsZero() || ev.Data.Webhook == nil || ev.Data.Webhook.Status != "pending" {
			t.Errorf("delivery body = %s", d.body)
		}
		if m := r.scrape(t); !strings.Contains(m, `frameforge_webhook_deliveries_total{outcome="delivered"} 1`) ||
			!strings.Contains(m, "frameforge_webhook_attempts_total 1") || !strings.Contains(m, "frameforge_webhook_delivery_seconds_count 1") {
			t.Errorf("webhook metrics not counted:\n%s", grepLines(m, "webhook"))
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Failing answers are retried on the schedule with the same webhook-id;
// the delivery that finally succeeds counts every attempt.
func TestWebhookRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, webhookConfig(50*time.Millisecond, 50*time.Millisecond))
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		rc := newReceiver(t, 500, 302, 200)
		rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL })
		r.waitEnd(t, rec.ID)
		done := r.waitWebhook(t, rec.ID)
		got := rc.deliveries()
		if done.WebhookStatus != WebhookDelivered || done.WebhookAttempts != 3 || len(got) != 3 {
			t.Fatalf("webhook = %s after %d attempts, %d received; want delivered after 3", done.WebhookStatus, done.WebhookAttempts, len(got))
		}
		key, _ := webhook.LoadSecret("", r.dataDir)
		for _, d := range got {
			verifySignature(t, key, d)
			if d.header.Get("webhook-id") != got[0].header.Get("webhook-id") || string(d.body) != string(got[0].body) {
				t.Errorf("retries differ in webhook-id or body: %q vs %q", d.header.Get("webhook-id"), got[0].header.Get("webhook-id"))
			}
		}
		if m := r.scrape(t); !strings.Contains(m, `frameforge_webhook_deliveries_total{outcome="retry"} 2`) {
			t.Errorf("retries not counted:\n%s", grepLines(m, "webhook"))
		}
	})
}

func TestWebhookGivenUp(t *testing.T) {
	for _, tt := range []struct {
		name     string
		statuses []int
		attempts int
		outcome  string
	}{
		{"schedule exhausted", []int{503}, 3, "failed"},
		{"410 stops at once", []int{410}, 1, "gone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, onSQLite, webhookConfig(50*time.Millisecond, 50*time.Millisecond))
			r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
			rc := newReceiver(t, tt.statuses...)
			rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL })
			r.waitEnd(t, rec.ID)
			done := r.waitWebhook(t, rec.ID)
			if done.WebhookStatus != WebhookFailed || done.WebhookAttempts != tt.attempts {
				t.Errorf("webhook = %s after %d attempts; want failed after %d", done.WebhookStatus, done.WebhookAttempts, tt.attempts)
			}
			time.Sleep(200 * time.Millisecond) // no attempt after giving up
			if n := len(rc.deliveries()); n != tt.attempts {
				t.Errorf("%d deliveries received; want %d", n, tt.attempts)
			}
			if m := r.scrape(t); !strings.Contains(m, `frameforge_webhook_deliveries_total{outcome="`+tt.outcome+`"} 1`) {
				t.Errorf("outcome %s not counted:\n%s", tt.outcome, grepLines(m, "webhook"))
			}
		})
	}
}

// A receiver that does not answer within WEBHOOK_TIMEOUT gets the delivery
// again.
func TestWebhookTimeoutRetried(t *testing.T) {
	cfg := webhookConfig(50 * time.Millisecond)
	cfg.Webhook.Timeout = 300 * time.Millisecond
	r := newRig(t, onSQLite, cfg)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	rc := newReceiver(t, 0, 200)
	rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL })
	r.waitEnd(t, rec.ID)
	if done := r.waitWebhook(t, rec.ID); done.WebhookStatus != WebhookDelivered || done.WebhookAttempts != 2 {
		t.Errorf("webhook = %s after %d attempts; want delivered after 2", done.WebhookStatus, done.WebhookAttempts)
	}
}

// Failed and cancelled jobs are announced too, and the job object carries
// no provider key, token or upstream URL.
func TestWebhookFailedAndCancelled(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, webhookConfig(50*time.Millisecond))
		rc := newReceiver(t, 200)
		const clientKey = "AIzaPERREQUESTKEYNEVERSENT"
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		failed := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL; s.Key = frameforge.NewKey(clientKey, true) })
		r.waitEnd(t, failed.ID) // the fake does not know the client's key: invalid_api_key
		if done := r.waitWebhook(t, failed.ID); done.WebhookStatus != WebhookDelivered {
			t.Fatalf("failed job's webhook = %s", done.WebhookStatus)
		}

		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 20 * time.Second})
		running := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL })
		if !r.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 2 }) {
			t.Fatal("the job never reached the provider")
		}
		if _, err := r.e.Cancel(context.Background(), running.ID); err != nil {
			t.Fatal(err)
		}
		if done := r.waitWebhook(t, running.ID); done.WebhookStatus != WebhookDelivered {
			t.Fatalf("cancelled job's webhook = %s", done.WebhookStatus)
		}
		types := map[string]string{}
		for _, d := range rc.deliveries() {
			var ev struct {
				Type string `json:"type"`
				Data View   `json:"data"`
			}
			_ = json.Unmarshal(d.body, &ev)
			types[ev.Data.ID] = ev.Type
			for _, secret := range []string{clientKey, r.fake.Key, r.fake.URL, "generativelanguage"} {
				if strings.Contains(string(d.body), secret) || strings.Contains(strings.Join(headerValues(d.header), " "), secret) {
					t.Errorf("a delivery contains %q: %s", secret, d.body)
				}
			}
		}
		if types[failed.ID] != "job.failed" || types[running.ID] != "job.cancelled" || len(types) != 2 {
			t.Errorf("events = %v; want job.failed and job.cancelled", types)
		}
	})
}

func headerValues(h http.Header) []string {
	var out []string
	for _, vs := range h {
		out = append(out, vs...)
	}
	return out
}

// A delivery waiting for its next attempt survives a restart: the new
// process makes it.
func TestWebhookSurvivesRestart(t *testing.T) {
	r := newRig(t, onSQLite, webhookConfig(time.Second))
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	rc := newReceiver(t, 500, 200)
	rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL })
	r.waitEnd(t, rec.ID)
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.stop(t)
	if n := len(rc.deliveries()); n != 1 {
		t.Fatalf("%d deliveries before the restart; want 1 (the second waits a second)", n)
	}
	r.e = r.reopen()
	done := r.waitWebhook(t, rec.ID)
	if done.WebhookStatus != WebhookDelivered || done.WebhookAttempts != 2 || len(rc.deliveries()) != 2 {
		t.Errorf("after restart: webhook = %s after %d attempts, %d received; want delivered after 2",
			done.WebhookStatus, done.WebhookAttempts, len(rc.deliveries()))
	}
}

// Without allow-private, a webhook to the test's own loopback receiver is
// refused at submission, and a delivery queued to it anyway is refused
// when connecting (the DNS-rebinding case), so nothing reaches it.
func TestWebhookPrivateTargetsRefused(t *testing.T) {
	r := newRig(t, onSQLite, Config{Webhook: webhook.Config{Schedule: []time.Duration{}}})
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	rc := newReceiver(t, 200)
	target := strings.Replace(rc.URL, "http://127.0.0.1", "https://localhost", 1)
	if _, err := r.e.CheckWebhookURL(context.Background(), target); frameforge.ErrorCode(err) != frameforge.EInvalidWebhookURL {
		t.Errorf("CheckWebhookURL(%s) = %v; want invalid_webhook_url", target, err)
	}
	rec := r.submit(t, func(s *Submission) { s.WebhookURL = rc.URL }) // as if it had resolved elsewhere at submission
	r.waitEnd(t, rec.ID)
	if done := r.waitWebhook(t, rec.ID); done.WebhookStatus != WebhookFailed || len(rc.deliveries()) != 0 {
		t.Errorf("webhook = %s with %d received; want failed with none", done.WebhookStatus, len(rc.deliveries()))
	}
}

// A process that died between ending a job and queueing its delivery left
// the delivery pending with nothing queued: the cleanup queues it again,
// once, however often it runs.
func TestPendingWebhookRequeued(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, webhookConfig(50*time.Millisecond))
		rc := newReceiver(t, 204)
		now := time.Now()
		ended := now.Add(-2 * time.Minute)
		if err := r.e.st.insert(context.Background(), &Record{ID: "job_lostdelivery", Owner: "ip:127.0.0.1", Status: StatusFailed,
			Provider: "google", Family: "google", Variations: 1, CreatedAt: ended, UpdatedAt: ended, FinishedAt: ended,
			ErrorCode: "content_blocked", ErrorDetail: "blocked", WebhookURL: rc.URL + "/hook"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.st.update(context.Background(), "job_lostdelivery", nil, map[string]any{"webhook_status": WebhookPending}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := (&cleanupWorker{s: r.e.Service}).Work(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
		done := r.waitWebhook(t, "job_lostdelivery")
		if done.WebhookStatus != WebhookDelivered {
			t.Fatalf("webhook = %s; want delivered", done.WebhookStatus)
		}
		time.Sleep(200 * time.Millisecond)
		if got := rc.deliveries(); len(got) != 1 || got[0].header.Get("webhook-id") != "msg_job_lostdelivery_job.failed" {
			t.Errorf("%d deliveries; want exactly 1 of job.failed", len(got))
		}
	})
}
