package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
)

// editArgs is the River job: only our job's id; everything else is in our
// table and blob storage (so a queued job holds no image in the queue).
type editArgs struct {
	JobID string `json:"job_id"`
	// Variations bounds how long one run may take (Timeout); 0 in jobs
	// queued before it was recorded counts as 1.
	Variations int `json:"variations,omitempty"`
}

func (editArgs) Kind() string { return "frameforge_edit" }

// editWorker runs one job: the same pipeline as POST /api/edit, once per
// variation, then stores the results.
type editWorker struct {
	river.WorkerDefaults[editArgs]
	s    *Service
	reg  *provider.Registry
	pipe *pipeline.Pipeline
	gate *admission.Gate
	m    *Metrics
}

// Timeout is JOB_RESCUE_AFTER per variation: one run makes each variation's
// provider call (EDIT_TIMEOUT each) in turn. It is also when River's rescuer
// may run the job again elsewhere, taking its replica for dead (the rescuer
// waits for the longer of JOB_RESCUE_AFTER and this, and passes over a job
// without a timeout altogether), so a run still going then is stopped here
// rather than run twice at once.
func (w *editWorker) Timeout(job *river.Job[editArgs]) time.Duration {
	return w.s.cfg.RescueAfter * time.Duration(max(job.Args.Variations, 1))
}

// errClientCancel is the cause of a run stopped by a client's cancel
// through this replica.
var errClientCancel = errors.New("jobs: cancelled by a client")

func (w *editWorker) Work(ctx context.Context, job *river.Job[editArgs]) error {
	s := w.s
	id := job.Args.JobID
	rec, err := s.st.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted (expired, or its submission failed): nothing to do
	}
	if err != nil {
		return err
	}
	if rec.Status.Terminal() {
		return nil // cancelled while queued, or done by an earlier run
	}
	if rec.Attempts >= s.cfg.MaxAttempts {
		// Every attempt was used up by runs that never finished (the
		// process died mid-call each time): give up with a cause.
		return w.finish(ctx, rec, &frameforge.Error{Code: frameforge.EInterrupted,
			Message: fmt.Sprintf("The job was interrupted %d times (the server stopped while running it) and was given up.", rec.Attempts)})
	}
	now := s.now().UnixMilli()
	set := map[string]any{"status": string(StatusRunning), "attempts": rec.Attempts + 1}
	if rec.StartedAt.IsZero() {
		set["started_ms"] = now
		w.m.observeWait(now - rec.CreatedAt.UnixMilli())
	}
	if ok, err := s.st.update(ctx, id, []Status{StatusAccepting, StatusQueued, StatusRunning}, set); err != nil || !ok {
		return err // cancelled meanwhile (ok false): nothing to do
	}
	s.changed(id, StatusRunning)
	rec.Attempts++

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.cancel.register(id, func() { stop(errClientCancel) })
	defer s.cancel.unregister(id)
	go w.watchStatus(runCtx, id, stop)

	start := time.Now()
	err = w.run(runCtx, rec)
	w.m.observeRun(time.Since(start))
	switch cause := context.Cause(runCtx); {
	case err == nil:
		return nil
	case errors.Is(cause, errClientCancel) || errors.Is(cause, river.ErrJobCancelledRemotely):
		// Cancelled by a client, through this replica or another (River's
		// cancel, or our table's notification): Cancel has written the
		// status.
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Past Timeout: the rescuer may take the job any moment. This
		// attempt failed like a provider timeout; the variations already
		// stored are kept for the next.
		err = frameforge.Errorf(frameforge.EUpstreamTimeout,
			"The job ran longer than it may (JOB_RESCUE_AFTER per variation) and was stopped.")
	case ctx.Err() != nil:
		// The process is stopping (River cancelled our context): put the
		// job back, this attempt not counted, for the next start.
		_, _ = s.st.update(context.WithoutCancel(ctx), id, []Status{StatusRunning},
			map[string]any{"status": string(StatusQueued), "attempts": rec.Attempts - 1})
		s.changed(id, StatusQueued)
		return river.JobSnooze(0)
	}
	if retryable(err) && rec.Attempts < s.cfg.MaxAttempts {
		wait := w.backoff(rec.Attempts, frameforge.RetryAfter(err))
		s.log.InfoContext(ctx, "job attempt failed; retrying", "job", id, "attempt", rec.Attempts,
			"code", frameforge.ErrorCode(err), "retry_in", wait)
		_, _ = s.st.update(context.WithoutCancel(ctx), id, []Status{StatusRunning}, map[string]any{"status": string(StatusQueued)})
		s.changed(id, StatusQueued)
		return river.JobSnooze(wait)
	}
	return w.finish(ctx, rec, err)
}

// run performs every variation not stored yet, storing each result as it
// comes, so a retry does not pay twice for the ones that succeeded.
func (w *editWorker) run(ctx context.Context, rec *Record) error {
	s := w.s
	var key frameforge.Key
	if len(rec.SealedKey) > 0 {
		plain, err := s.sealer.Open(rec.SealedKey, []byte(rec.ID))
		if err != nil {
			return frameforge.Wrap(err, frameforge.EInternal, "The job's API key could not be read back.")
		}
		key = frameforge.NewKey(string(plain), true)
	}
	creds := provider.Credentials{rec.Family: key.Reveal()}
	route, err := w.reg.Resolve(rec.Provider, creds)
	if err != nil {
		return err
	}
	// The chain of this replica's configuration, with the server keys of
	// the moment; the job's own key stays with its own provider.
	var fallbacks []provider.Route
	if !rec.NoProviderFallback {
		fallbacks = w.reg.Fallbacks(route, creds)
	}
	uploads := make([]pipeline.Upload, len(rec.Inputs))
	for i := range rec.Inputs {
		data, err := s.blobs.Get(ctx, inputKey(rec.ID, i))
		if err != nil {
			return frameforge.Wrap(err, frameforge.EInternal, "The job's photos could not be read back from storage.")
		}
		if uploads[i], err = pipeline.CheckImage(data, fmt.Sprintf("input #%d", i+1), 0); err != nil {
			return err
		}
	}
	results := rec.Results
	total := ResultCount(rec.Variations, rec.Steps)
	// The decluttered room the stage step furnishes: made by this attempt,
	// or read back from storage when an earlier attempt made it (a retry
	// resumes after the declutter step, not before).
	var decluttered []pipeline.Upload
	fallback := false
	for v := len(results); v < total; v++ {
		src, prompt, step, disclose, lastUse := uploads, rec.Prompt, "", rec.Disclose, total-1
		if len(rec.Steps) > 0 {
			step = rec.Steps[0].Name
		}
		if rec.twoStep() {
			if v == 0 {
				// The declutter result stays unlabelled: the stage step
				// edits it, and the label goes on what it makes.
				src, prompt, step, disclose, lastUse = uploads, rec.Steps[0].Prompt, rec.Steps[0].Name, false, 0
			} else {
				if decluttered == nil {
					if decluttered, err = w.readDecluttered(ctx, rec.ID); err != nil {
						return err
					}
				}
				src, step = decluttered, rec.Steps[1].Name
			}
		}
		ticket, err := w.gate.Admit()
		if err != nil {
			return frameforge.Wrap(err, frameforge.EOverloaded, "No slot for the job's provider call.")
		}
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.EditTimeout)
		// Prepare may compact its input in place: a call whose input
		// another call uses later gets a copy; the last one takes the bytes
		// as they are.
		in := src
		if v < lastUse {
			in = make([]pipeline.Upload, len(src))
			for i, u := range src {
				u.Image.Data = append([]byte(nil), u.Image.Data...)
				in[i] = u
			}
		}
		res, err := w.pipe.Run(callCtx, ticket, pipeline.Input{Uploads: in, Prompt: prompt, Route: route, Fallbacks: fallbacks, RequestID: rec.ID, Disclose: disclose})
		cancel()
		ticket.Release()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if err := s.blobs.Put(ctx, resultKey(rec.ID, v), res.Image.Data, res.Image.ContentType); err != nil {
			return frameforge.Wrap(err, frameforge.EInternal, "The result could not be stored.")
		}
		if rec.twoStep() && v == 0 {
			u, err := pipeline.CheckImage(res.Image.Data, "the decluttered photo", 0)
			if err != nil {
				return err
			}
			decluttered = []pipeline.Upload{u}
		}
		results = append(results, Image{ContentType: res.Image.ContentType, Bytes: int64(len(res.Image.Data)),
			Width: res.Image.Width, Height: res.Image.Height, Provider: res.Provider, Model: res.Model, Tried: res.Tried,
			Structure: res.Structure, Step: step, Labelled: res.Labelled})
		fallback = fallback || res.Fallback
		if _, err := s.st.update(ctx, rec.ID, []Status{StatusRunning}, map[string]any{"results": mustJSON(results)}); err != nil {
			return err
		}
		s.cancel.notify(rec.ID) // event streams: a step or variation is done
	}
	ok, err := s.st.update(ctx, rec.ID, []Status{StatusRunning}, map[string]any{
		"status": string(StatusSucceeded), "finished_ms": s.now().UnixMilli(), "fallback": fallback, "sealed_key": "",
	})
	if err == nil && ok {
		w.m.finished(StatusSucceeded)
		s.settle(ctx, rec.ID)
		s.changed(rec.ID, StatusSucceeded)
		s.queueWebhook(ctx, rec, StatusSucceeded)
	}
	return err
}

// readDecluttered reads back the declutter result an earlier attempt of a
// two-step job stored, as the stage step's input.
func (w *editWorker) readDecluttered(ctx context.Context, id string) ([]pipeline.Upload, error) {
	data, err := w.s.blobs.Get(ctx, resultKey(id, 0))
	if err != nil {
		return nil, frameforge.Wrap(err, frameforge.EInternal, "The decluttered photo could not be read back from storage.")
	}
	u, err := pipeline.CheckImage(data, "the decluttered photo", 0)
	if err != nil {
		return nil, err
	}
	return []pipeline.Upload{u}, nil
}

// finish ends a job as failed with err's public cause and erases its key.
// It returns nil: our table is the job's truth, River need not retry.
func (w *editWorker) finish(ctx context.Context, rec *Record, err error) error {
	s := w.s
	code, detail := frameforge.ErrorCode(err), frameforge.ErrorMessage(err)
	ok, uerr := s.st.update(context.WithoutCancel(ctx), rec.ID, []Status{StatusAccepting, StatusQueued, StatusRunning}, map[string]any{
		"status": string(StatusFailed), "finished_ms": s.now().UnixMilli(), "error_code": code, "error_detail": detail, "sealed_key": "",
	})
	if uerr != nil {
		return uerr
	}
	if ok {
		w.m.finished(StatusFailed)
		s.settle(ctx, rec.ID)
		s.log.InfoContext(ctx, "job failed", "job", rec.ID, "code", code, "attempts", rec.Attempts)
		s.changed(rec.ID, StatusFailed)
		s.queueWebhook(ctx, rec, StatusFailed)
	}
	return nil
}

// watchStatus ends the run when the job is cancelled through another
// replica and neither River's cancel nor the store's notification reached
// this one (this one's Cancel stops it directly).
func (w *editWorker) watchStatus(ctx context.Context, id string, stop context.CancelCauseFunc) {
	t := time.NewTicker(w.s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r, err := w.s.st.get(ctx, id); err == nil && r.Status == StatusCancelled {
				stop(errClientCancel)
				return
			}
		}
	}
}

// backoff is JOB_RETRY_BACKOFF doubled per attempt, capped at a minute, with
// jitter; a longer wait asked for by the provider wins.
func (w *editWorker) backoff(attempt int, hint time.Duration) time.Duration {
	d := w.s.cfg.RetryBackoff << (attempt - 1)
	if d > time.Minute || d <= 0 {
		d = time.Minute
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, hint)
}

// retryable failures may pass by themselves: quotas, overloads, upstream
// errors, timeouts. Refusals (a blocked prompt, a bad key, invalid input)
// never do.
func retryable(err error) bool {
	switch frameforge.ErrorCode(err) {
	case frameforge.EUpstreamRateLimit, frameforge.EUpstreamUnavail, frameforge.EUpstreamError,
		frameforge.EUpstreamTimeout, frameforge.EOverloaded, frameforge.EInterrupted, frameforge.ENoImageReturned:
		return true
	}
	return false
}

// cancels maps running jobs to their cancel functions on this replica, and
// wakes event streams on changes.
type cancels struct {
	mu      sync.Mutex
	running map[string]func()
	waiters map[string]chan struct{}
	moved   chan struct{} // closed when a job leaves the queue
}

func newCancels() *cancels {
	return &cancels{running: map[string]func(){}, waiters: map[string]chan struct{}{}, moved: make(chan struct{})}
}

func (c *cancels) register(id string, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running[id] = f
}

func (c *cancels) unregister(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, id)
}

func (c *cancels) fire(id string) {
	c.mu.Lock()
	f := c.running[id]
	c.mu.Unlock()
	if f != nil {
		f()
	}
	c.notify(id)
}

// changed returns a channel closed at the job's next change.
func (c *cancels) changed(id string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.waiters[id]
	if !ok {
		ch = make(chan struct{})
		c.waiters[id] = ch
	}
	return ch
}

func (c *cancels) notify(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.waiters[id]; ok {
		close(ch)
		delete(c.waiters, id)
	}
}

// queueChanged returns a channel closed when the next job leaves the queue
// (every queued job's position may have moved).
func (c *cancels) queueChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moved
}

func (c *cancels) queueMoved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.moved)
	c.moved = make(chan struct{})
}

// wakeAll wakes every watcher (changes may have been missed).
func (c *cancels) wakeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.waiters {
		close(ch)
		delete(c.waiters, id)
	}
	close(c.moved)
	c.moved = make(chan struct{})
}

// logger for River: its own lines at warn and above only.
func riverLogger(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{log.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
