// Package jobs is the asynchronous edit: a client submits photos and gets a
// job id at once; a worker runs the same edit pipeline as POST /api/edit,
// keeps the inputs and results in blob storage, and the job ends succeeded,
// failed with a cause, or cancelled, whatever process dies in between. The
// queue is River (github.com/riverqueue/river), the same code on an embedded
// SQLite file and on PostgreSQL; our own table holds what clients see. See
// docs/jobs.md.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/blobstore"
	"frameforge/internal/secret"
	"frameforge/internal/structure"
	"frameforge/internal/webhook"
)

// Config is what the job service needs to know.
type Config struct {
	ResultTTL    time.Duration // finished jobs, inputs and results are deleted after this
	Workers      int           // provider calls jobs may run at once on this replica
	MaxAttempts  int           // attempts for retryable failures
	RetryBackoff time.Duration // wait before the second attempt; doubles, capped at a minute
	RescueAfter  time.Duration // a job left running by a dead replica runs again after this
	EditTimeout  time.Duration // one attempt's provider call, end to end
	IdemWindow   time.Duration // how long an Idempotency-Key binds (24 h, or RESULT_TTL if shorter)
	// Webhook is how terminal events are delivered; without a secret, the
	// one generated into DATA_DIR is used (webhook.LoadSecret).
	Webhook webhook.Config
	// fetchPoll replaces River's poll interval (a second on SQLite, 250 ms
	// on PostgreSQL) when set: the tests make it long, to show that a new
	// job starts without waiting for it.
	fetchPoll time.Duration
}

// Service is the job API's logic. It is safe for concurrent use.
type Service struct {
	cfg    Config
	st     *store
	blobs  *blobstore.Store
	sealer *secret.Sealer
	q      queue
	log    *slog.Logger
	cancel *cancels
	m      *Metrics
	hooks  *webhook.Client
	quota  Quota
	now    func() time.Time
	// poll is how often a watcher re-reads its job unwoken (pollAlone, or
	// pollWithListener when notifications carry other replicas' changes).
	poll time.Duration
}

// Quota settles the quota units a job reserved when it was submitted
// (internal/auth's token store): kept units count as successful edits of
// provider, the rest are given back.
type Quota interface {
	Settle(ctx context.Context, hold string, kept int, provider string) error
}

// queue is what the service needs of River, whatever its transaction type.
type queue interface {
	insert(ctx context.Context, jobID string, variations int) (int64, error)
	insertWebhook(ctx context.Context, jobID, eventType string) error
	cancel(ctx context.Context, riverID int64) error
}

// Submission is an accepted edit request, its images already prepared.
type Submission struct {
	Owner      string
	IdemKey    string
	Hash       string // fingerprint of the request, for idempotency
	Provider   string // the route id
	Family     string
	Model      string
	Key        frameforge.Key // the request's own key, if it sent one (sealed at rest)
	Images     []frameforge.Image
	Prompt     string
	Variations int
	// NoFallback opts out of the provider's fallback chain (fallback=false).
	NoFallback bool
	WebhookURL string
	Metadata   json.RawMessage
	QuotaHold  string // quota units reserved for the job's results (see Quota, ResultCount)
	Disclose   bool   // draw the disclosure label on each final result
	// Steps: none for a plain edit; [declutter] to empty the room;
	// [declutter, stage] to empty it, then stage the emptied room with
	// Prompt (which is then the stage step's prompt).
	Steps []Step
}

// Results is the number of results the job makes, each a quota unit.
func (s Submission) Results() int { return ResultCount(s.Variations, s.Steps) }

// newID is "job_" and 130 random bits in base32: unguessable, because a job
// id is a capability to the room photos behind it.
func newID() string {
	var b [17]byte
	_, _ = rand.Read(b[:])
	return "job_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func inputKey(id string, n int) string  { return fmt.Sprintf("jobs/%s/inputs/%d", id, n) }
func resultKey(id string, n int) string { return fmt.Sprintf("jobs/%s/results/%d", id, n) }

// Submit stores a job and queues it. With an idempotency key already bound
// to the same request it returns that job and replayed = true; bound to
// another request, EIdemKeyReused; still being accepted, EIdemInProgress.
func (s *Service) Submit(ctx context.Context, sub Submission) (rec *Record, replayed bool, err error) {
	if sub.IdemKey != "" {
		if rec, err := s.replay(ctx, sub); rec != nil || err != nil {
			return rec, rec != nil, err
		}
	}
	now := s.now()
	r := &Record{
		ID: newID(), Owner: sub.Owner, Status: StatusAccepting, Provider: sub.Provider, Family: sub.Family,
		Model: sub.Model, Prompt: sub.Prompt, Variations: sub.Variations, CreatedAt: now, UpdatedAt: now,
		WebhookURL: sub.WebhookURL, Metadata: sub.Metadata, IdemKey: sub.IdemKey, IdemHash: sub.Hash,
		QuotaHold:          sub.QuotaHold,
		NoProviderFallback: sub.NoFallback,
		Disclose:           sub.Disclose,
		Steps:              sub.Steps,
	}
	if r.WebhookURL != "" {
		r.WebhookStatus = WebhookPending
	}
	for _, img := range sub.Images {
		r.Inputs = append(r.Inputs, Image{ContentType: img.ContentType, Bytes: int64(len(img.Data)), Width: img.Width, Height: img.Height})
	}
	if !sub.Key.Empty() {
		// Bound to this job's id: a sealed key copied to another row does
		// not open.
		r.SealedKey = s.sealer.Seal([]byte(sub.Key.Reveal()), []byte(r.ID))
	}
	if err := s.st.insert(ctx, r); err != nil {
		if errors.Is(err, errIdemConflict) { // a concurrent first request won the key
			if rec, err := s.replay(ctx, sub); rec != nil || err != nil {
				return rec, rec != nil, err
			}
		}
		return nil, false, fmt.Errorf("store job: %w", err)
	}
	// From here on the row exists: any failure removes it, so a refused
	// submission leaves nothing behind.
	fail := func(err error) (*Record, bool, error) {
		_ = s.blobs.DeletePrefix(context.WithoutCancel(ctx), "jobs/"+r.ID+"/")
		_ = s.st.delete(context.WithoutCancel(ctx), r.ID)
		return nil, false, err
	}
	for i, img := range sub.Images {
		if err := s.blobs.Put(ctx, inputKey(r.ID, i), img.Data, img.ContentType); err != nil {
			return fail(fmt.Errorf("store input: %w", err))
		}
	}
	rid, err := s.q.insert(ctx, r.ID, r.Variations)
	if err != nil {
		return fail(fmt.Errorf("queue job: %w", err))
	}
	// The worker may already have picked it up: only an accepting row moves
	// to queued, but every row learns its River id, which a cancel of the
	// running job needs.
	moved, err := s.st.update(ctx, r.ID, []Status{StatusAccepting}, map[string]any{"status": string(StatusQueued), "river_id": rid})
	if err == nil && !moved {
		_, err = s.st.update(ctx, r.ID, nil, map[string]any{"river_id": rid})
	}
	if err != nil {
		s.log.WarnContext(ctx, "job queued but its row not updated", "job", r.ID, "err", err)
	}
	rec, err = s.st.get(ctx, r.ID)
	return rec, false, err
}

// replay answers a request whose idempotency key is already bound, or
// returns nil, nil when the key is free (never used, or its binding expired).
func (s *Service) replay(ctx context.Context, sub Submission) (*Record, error) {
	prev, err := s.st.byIdemKey(ctx, sub.Owner, sub.IdemKey)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s.now().Sub(prev.CreatedAt) > s.cfg.IdemWindow {
		// Expired binding: free the key for this request.
		_, err := s.st.update(ctx, prev.ID, nil, map[string]any{"idem_key": nil})
		return nil, err
	}
	switch {
	case prev.Status == StatusAccepting:
		return nil, frameforge.Errorf(frameforge.EIdemInProgress,
			"A request with this Idempotency-Key is still being accepted; try again in a moment.")
	case prev.IdemHash != sub.Hash:
		return nil, frameforge.Errorf(frameforge.EIdemKeyReused,
			"This Idempotency-Key was already used for a different request; use a new key for a new request.")
	}
	return prev, nil
}

// Get returns a job that clients may see.
func (s *Service) Get(ctx context.Context, id string) (*Record, error) {
	r, err := s.st.get(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (r.Status == StatusAccepting || s.expired(r))) {
		return nil, errJobNotFound(id)
	}
	return r, err
}

func (s *Service) expired(r *Record) bool {
	return r.Status.Terminal() && !r.FinishedAt.IsZero() && s.now().Sub(r.FinishedAt) > s.cfg.ResultTTL
}

// NotFound is the error for a job the caller may not see: the same as for
// one that does not exist.
func (s *Service) NotFound(id string) error { return errJobNotFound(id) }

func errJobNotFound(id string) error {
	return frameforge.Errorf(frameforge.EJobNotFound, "No job %q: it does not exist, or it expired and was deleted.", truncate(id, 80))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Cancel ends a queued or running job as cancelled; a running provider call
// is cancelled upstream (the worker's context ends). A job already ended is
// EJobFinished.
func (s *Service) Cancel(ctx context.Context, id string) (*Record, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	ok, err := s.st.update(ctx, id, []Status{StatusAccepting, StatusQueued, StatusRunning},
		map[string]any{"status": string(StatusCancelled), "finished_ms": now, "sealed_key": ""})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, frameforge.Errorf(frameforge.EJobFinished, "The job has already ended (%s); there is nothing to cancel.", r.Status)
	}
	s.m.finished(StatusCancelled)
	s.settle(ctx, id)
	s.queueWebhook(ctx, r, StatusCancelled)
	// This replica's worker stops at once; another replica's is told
	// through the store's notifications (PostgreSQL; and River's own cancel
	// below), and River does not run a queued one.
	s.changed(id, StatusCancelled)
	if r.RiverID != 0 {
		if err := s.q.cancel(context.WithoutCancel(ctx), r.RiverID); err != nil {
			s.log.WarnContext(ctx, "cancelling the queued job in River failed; the worker will skip it", "job", id, "err", err)
		}
	}
	return s.st.get(ctx, id)
}

// settle hands the quota hold of an ended job to Quota: a job that
// succeeded keeps a unit per result it can serve (none for development
// fallbacks), a failed or cancelled one gives every unit back. It runs after
// each terminal change, and the cleanup runs it again for a process that died
// in between; takeHold makes it happen once.
func (s *Service) settle(ctx context.Context, id string) {
	if s.quota == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	r, err := s.st.get(ctx, id)
	if err != nil || r.QuotaHold == "" || !r.Status.Terminal() {
		return
	}
	if ok, err := s.st.takeHold(ctx, id, r.QuotaHold); err != nil || !ok {
		return
	}
	kept := 0
	if r.Status == StatusSucceeded && !r.Fallback {
		kept = len(r.Results)
	}
	if err := s.quota.Settle(ctx, r.QuotaHold, kept, r.Family); err != nil {
		// Units not given back stay counted: the safe side of a quota.
		s.log.WarnContext(ctx, "settling the job's quota units failed", "job", id, "err", err)
	}
}

// Image returns a stored input or result. A result of a job still queued or
// running is EJobNotFinished; one the job does not have, EResultNotFound.
func (s *Service) Image(ctx context.Context, id, kind string, n int) ([]byte, string, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, "", err
	}
	list, key := r.Inputs, inputKey(id, n)
	if kind == "results" {
		if !r.Status.Terminal() {
			return nil, "", frameforge.Errorf(frameforge.EJobNotFinished, "The job has not finished yet: its results are not ready; follow its events or try again later.")
		}
		if r.Status != StatusSucceeded {
			// A failed or cancelled job gave its quota units back: the
			// results of its steps or variations that did finish are not
			// served (docs/jobs.md).
			return nil, "", frameforge.Errorf(frameforge.EResultNotFound, "The job %s: it has no results.", r.Status)
		}
		list, key = r.Results, resultKey(id, n)
	}
	if n < 0 || n >= len(list) {
		return nil, "", frameforge.Errorf(frameforge.EResultNotFound, "The job has no %s number %d.", strings.TrimSuffix(kind, "s"), n)
	}
	data, err := s.blobs.Get(ctx, key)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil, "", frameforge.Errorf(frameforge.EResultNotFound, "The job's %s number %d is no longer stored.", strings.TrimSuffix(kind, "s"), n)
	}
	return data, list[n].ContentType, err
}

// List returns the owner's jobs, newest first, and the id to continue after
// (empty at the end).
func (s *Service) List(ctx context.Context, owner, after string, limit int) ([]*Record, string, error) {
	recs, err := s.st.list(ctx, owner, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > limit {
		recs, next = recs[:limit], recs[limit-1].ID
	}
	return recs, next, nil
}

// Watch calls emit with the job now and on every change, until the job has
// ended (after emitting its terminal state) or ctx ends. It reads the store,
// so it sees what any replica does; a change wakes it at once, made here or
// (PostgreSQL: notifications) on another replica.
func (s *Service) Watch(ctx context.Context, id string, emit func(*Record) error) error {
	var last time.Time
	var lastPos, lastResults int
	var lastStatus Status
	for {
		// Asked for before reading, so a change made while we read still
		// wakes us.
		changed, moved := s.cancel.changed(id), s.cancel.queueChanged()
		r, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		pos := 0
		if r.Status == StatusQueued {
			pos, _ = s.st.queuePosition(ctx, r.CreatedAt)
		} else {
			moved = nil // only a queued job has a position to follow
		}
		// updated_ms has millisecond steps: two changes within one
		// (a result stored, then the job ended) must still both be seen.
		if !r.UpdatedAt.Equal(last) || pos != lastPos || r.Status != lastStatus || len(r.Results) != lastResults {
			if err := emit(r); err != nil {
				return err
			}
			last, lastPos, lastStatus, lastResults = r.UpdatedAt, pos, r.Status, len(r.Results)
		}
		if r.Status.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-moved:
		case <-time.After(s.poll):
		}
	}
}

// Wait returns the job once it has ended or d has passed (Prefer: wait=N).
func (s *Service) Wait(ctx context.Context, id string, d time.Duration) (*Record, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last *Record
	err := s.Watch(ctx, id, func(r *Record) error { last = r; return nil })
	if last != nil && (err == nil || errors.Is(err, context.DeadlineExceeded)) {
		return last, nil
	}
	return last, err
}

// QueuePosition is the job's place in the queue (1 = next), while queued.
func (s *Service) QueuePosition(ctx context.Context, r *Record) int {
	if r.Status != StatusQueued {
		return 0
	}
	n, err := s.st.queuePosition(ctx, r.CreatedAt)
	if err != nil {
		return 0
	}
	return n
}

// View is the job object clients see (docs/jobs.md).
type View struct {
	ID            string          `json:"id"`
	Status        Status          `json:"status"`
	Provider      string          `json:"provider"`
	Model         string          `json:"model"`
	Prompt        string          `json:"prompt"`
	Variations    int             `json:"variations"`
	CreatedAt     time.Time       `json:"created_at"`
	StartedAt     *time.Time      `json:"started_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
	Attempts      int             `json:"attempts"`
	QueuePosition int             `json:"queue_position,omitempty"`
	Inputs        []ImageView     `json:"inputs"`
	Results       []ResultView    `json:"results"`
	Error         *ErrorView      `json:"error,omitempty"`
	Fallback      bool            `json:"fallback,omitempty"`
	WebhookURL    string          `json:"webhook_url,omitempty"`
	Webhook       *WebhookView    `json:"webhook,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	// Disclosure is true when each final result carries the disclosure
	// label (each such result says labelled).
	Disclosure bool `json:"disclosure"`
	// Steps are the steps of a declutter job, in order, with where each
	// stands; absent for a plain edit.
	Steps []StepView `json:"steps,omitempty"`
	// Step is the step running now (while the job runs and has steps).
	Step  string `json:"step,omitempty"`
	Links Links  `json:"links"`
}

// StepView is one step of a job: its name, its prompt, and its status:
// pending, running, succeeded (its results are stored), or the job's own
// failed or cancelled for the step it ended in.
type StepView struct {
	Name   string `json:"name"`
	Prompt string `json:"prompt"`
	Status string `json:"status"`
}

// WebhookView is where the delivery of the job's terminal event stands.
type WebhookView struct {
	Status   string `json:"status"` // pending, delivered, failed
	Attempts int    `json:"attempts"`
}

// ImageView is one stored picture, with the relative URL it is served at.
type ImageView struct {
	URL string `json:"url"`
	Image
}

// ResultView is one result: the picture, and its structural-change check
// (null when the check is off, does not apply or failed). The check's
// regions are in the result's pixels.
type ResultView struct {
	ImageView
	Structure *structure.Report `json:"structure"`
}

// ErrorView is why a job failed: the same code /api/edit would give.
type ErrorView struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// Links are where to follow and cancel the job.
type Links struct {
	Self   string `json:"self"`
	Events string `json:"events"`
	Cancel string `json:"cancel"`
}

// View renders a record for clients.
func (s *Service) View(ctx context.Context, r *Record) View {
	self := "/api/jobs/" + r.ID
	st := r.Status
	if st == StatusAccepting {
		st = StatusQueued
	}
	v := View{ID: r.ID, Status: st, Provider: r.Provider, Model: r.Model, Prompt: r.Prompt, Variations: r.Variations,
		CreatedAt: r.CreatedAt, StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt), Attempts: r.Attempts,
		Inputs: []ImageView{}, Results: []ResultView{}, Fallback: r.Fallback, WebhookURL: r.WebhookURL, Metadata: r.Metadata,
		Disclosure: r.Disclose, Links: Links{Self: self, Events: self + "/events", Cancel: self}}
	if r.WebhookStatus != "" { // set when the job has a webhook_url
		v.Webhook = &WebhookView{Status: r.WebhookStatus, Attempts: r.WebhookAttempts}
	}
	if st == StatusQueued {
		v.QueuePosition = s.QueuePosition(ctx, r)
	}
	for i, img := range r.Inputs {
		v.Inputs = append(v.Inputs, ImageView{URL: fmt.Sprintf("%s/inputs/%d", self, i), Image: img})
	}
	if r.Status == StatusSucceeded {
		for i, img := range r.Results {
			st := img.Structure
			img.Structure = nil
			v.Results = append(v.Results, ResultView{ImageView: ImageView{URL: fmt.Sprintf("%s/results/%d", self, i), Image: img}, Structure: st})
		}
	}
	if r.Status == StatusFailed {
		v.Error = &ErrorView{Detail: r.ErrorDetail, Code: r.ErrorCode}
	}
	v.Steps, v.Step = stepViews(r)
	return v
}

// stepViews says where each step of the job stands, from the results
// stored so far, and which one runs now.
func stepViews(r *Record) (views []StepView, running string) {
	done := len(r.Results)
	end := 0 // results made once this step is done
	ended := false
	for i, st := range r.Steps {
		if r.twoStep() && i == 0 {
			end = 1
		} else {
			end += r.Variations
		}
		sv := StepView{Name: st.Name, Prompt: st.Prompt, Status: "pending"}
		switch {
		case done >= end:
			sv.Status = string(StatusSucceeded)
		case ended:
		case r.Status == StatusRunning:
			sv.Status, running = string(StatusRunning), st.Name
			ended = true
		case r.Status == StatusFailed || r.Status == StatusCancelled:
			sv.Status = string(r.Status)
			ended = true
		default: // queued, also between attempts: the step waits its turn
			ended = true
		}
		views = append(views, sv)
	}
	return views, running
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
