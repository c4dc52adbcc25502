package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"frameforge"
	"frameforge/internal/webhook"
)

// Webhook delivery states (the webhook_status column).
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// webhookArgs is one event to deliver: the job and its terminal event type.
// The body is rendered from our table at each attempt, so the queue holds
// no job data.
type webhookArgs struct {
	JobID string `json:"job_id"`
	Type  string `json:"type"`
}

func (webhookArgs) Kind() string { return "frameforge_webhook" }

// eventType is the event of a terminal status: job.succeeded, job.failed,
// job.cancelled.
func eventType(st Status) string { return "job." + string(st) }

// event is the body of a delivery (docs/jobs.md, "Webhooks").
type event struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      View      `json:"data"`
}

// queueWebhook queues the delivery of the job's terminal event when the
// job has a webhook. Called once per job, by whoever moved it to st.
func (s *Service) queueWebhook(ctx context.Context, rec *Record, st Status) {
	if rec.WebhookURL == "" {
		return
	}
	if err := s.q.insertWebhook(context.WithoutCancel(ctx), rec.ID, eventType(st)); err != nil {
		s.log.ErrorContext(ctx, "webhook delivery could not be queued", "job", rec.ID, "err", err)
	}
}

// CheckWebhookURL returns a submitted webhook_url in canonical form, or
// EInvalidWebhookURL saying why it cannot be a target.
func (s *Service) CheckWebhookURL(ctx context.Context, raw string) (string, error) {
	u, err := s.hooks.CheckURL(ctx, raw)
	if err == nil {
		return u, nil
	}
	if webhook.IsFormError(err) {
		return "", frameforge.Errorf(frameforge.EInvalidWebhookURL, "webhook_url must be an absolute https:// URL without credentials.")
	}
	return "", frameforge.Wrap(err, frameforge.EInvalidWebhookURL,
		"webhook_url must reach a public address: its host is unknown or resolves to a loopback, private, link-local or other internal address.")
}

// webhookWorker makes one attempt at a delivery, and schedules the next
// with a snooze: our table counts attempts (River's count would include
// runs a dying process never finished), so the schedule is followed
// exactly and shown to clients.
type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	s *Service
}

// Timeout lets WEBHOOK_TIMEOUT govern (the client applies it per attempt).
func (w *webhookWorker) Timeout(*river.Job[webhookArgs]) time.Duration { return -1 }

func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	s := w.s
	rec, err := s.st.get(ctx, job.Args.JobID)
	if errors.Is(err, ErrNotFound) {
		return nil // expired and deleted: nothing left to tell
	}
	if err != nil {
		return err
	}
	if rec.WebhookStatus != WebhookPending || rec.WebhookURL == "" || !rec.Status.Terminal() {
		return nil
	}
	body, err := s.eventBody(ctx, rec, job.Args.Type)
	if err != nil {
		return err
	}
	attempt := rec.WebhookAttempts + 1
	start := time.Now()
	err = s.hooks.Send(ctx, rec.WebhookURL, "msg_"+rec.ID+"_"+job.Args.Type, body)
	s.m.webhookLatency.Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		// The process is stopping: this attempt does not count; the next
		// start makes it again.
		return river.JobSnooze(0)
	}
	s.m.webhookAttempts.Inc()
	set := map[string]any{"webhook_attempts": attempt}
	outcome := ""
	schedule := s.hooks.Schedule()
	switch {
	case err == nil:
		set["webhook_status"], outcome = WebhookDelivered, "delivered"
	case errors.Is(err, webhook.ErrGone):
		set["webhook_status"], outcome = WebhookFailed, "gone"
	case attempt > len(schedule):
		set["webhook_status"], outcome = WebhookFailed, "failed"
	default:
		outcome = "retry"
	}
	s.m.webhooks.WithLabelValues(outcome).Inc()
	if _, uerr := s.st.update(context.WithoutCancel(ctx), rec.ID, nil, set); uerr != nil {
		return uerr // River retries; the attempt is made again
	}
	s.cancel.notify(rec.ID)
	if outcome != "delivered" {
		s.log.InfoContext(ctx, "webhook delivery failed", "job", rec.ID, "type", job.Args.Type,
			"attempt", attempt, "outcome", outcome, "err", err)
	}
	if outcome == "retry" {
		return river.JobSnooze(schedule[attempt-1])
	}
	return nil
}

// eventBody renders the event with the job as of its terminal transition:
// its delivery not made yet, so pending with no attempts. The body is the
// same at every attempt; only the signature's timestamp changes.
func (s *Service) eventBody(ctx context.Context, rec *Record, typ string) ([]byte, error) {
	at := *rec
	at.WebhookStatus, at.WebhookAttempts = WebhookPending, 0
	if !strings.HasPrefix(typ, "job.") {
		return nil, errors.New("jobs: bad webhook event type " + typ)
	}
	// Not HTML-escaped, like the API's own answers: a failed job's detail
	// reads "Settings > Camera", not "Settings \u003e Camera".
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(event{Type: typ, Timestamp: rec.FinishedAt.UTC(), Data: s.View(ctx, &at)}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// webhookMetrics are the delivery collectors.
type webhookMetrics struct {
	webhooks        *prometheus.CounterVec
	webhookAttempts prometheus.Counter
	webhookLatency  prometheus.Histogram
}

func newWebhookMetrics() webhookMetrics {
	return webhookMetrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered, retry (another attempt is scheduled), failed (schedule exhausted), gone (the receiver answered 410).",
		}, []string{"outcome"}),
		webhookAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frameforge_webhook_attempts_total", Help: "Webhook delivery attempts made.",
		}),
		webhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "frameforge_webhook_delivery_seconds", Help: "Time one webhook delivery attempt takes, request to answer.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
	}
}
