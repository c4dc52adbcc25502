package jobs

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"frameforge/internal/blobstore"
	"frameforge/internal/blobstore/s3test"
	"frameforge/internal/logging/logtest"
	"frameforge/internal/pgtest"
	"frameforge/internal/provider/gemini/geminitest"
)

// Two replicas on one PostgreSQL database: a, which serves the API but works
// no jobs (not started), and b, which runs them. Everything a client asks of
// a about a job running on b must be as prompt as on b itself.
func twoReplicas(t *testing.T, cfg Config) (a, b *rig, bLogs *logtest.Buffer) {
	t.Helper()
	// A database of its own: notifications are per database. One S3
	// bucket for both, as replicas share.
	db := pgtest.FreshDatabase(t)
	blobs := s3test.New(t).StorageURL()
	bLogs = &logtest.Buffer{}
	b = newRigOn(t, db, blobs, cfg, true, bLogs)
	a = newRigOn(t, db, blobs, cfg, false, io.Discard)
	return a, b, bLogs
}

// A stream followed on a sees b's changes within moments: notifications,
// not the 5 s safety re-read.
func TestEventsFollowedFromAnotherReplica(t *testing.T) {
	a, b, bLogs := twoReplicas(t, Config{})
	b.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 1500 * time.Millisecond})
	rec := a.submit(t, nil)
	type event struct {
		status Status
		at     time.Time
	}
	var mu sync.Mutex
	var events []event
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- a.e.Watch(ctx, rec.ID, func(r *Record) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, event{r.Status, time.Now()})
			return nil
		})
	}()
	if !b.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		r, _ := b.e.st.get(context.Background(), rec.ID)
		t.Fatalf("the job never reached replica b's provider: %+v; b's log:\n%s", r, bLogs)
	}
	callAt := time.Now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var statuses []Status
	var runningAt, endAt time.Time
	for _, e := range events {
		statuses = append(statuses, e.status)
		switch e.status {
		case StatusRunning:
			if runningAt.IsZero() {
				runningAt = e.at
			}
		case StatusSucceeded:
			endAt = e.at
		}
	}
	if !slices.Contains(statuses, StatusRunning) || statuses[len(statuses)-1] != StatusSucceeded {
		t.Fatalf("events on a = %v; want running then succeeded", statuses)
	}
	if lag := runningAt.Sub(callAt); lag > time.Second {
		t.Errorf("a saw running %s after b's provider call began; want well under a second", lag)
	}
	// The fake answers 1.5 s after the call began.
	if lag := endAt.Sub(callAt); lag > 2500*time.Millisecond {
		t.Errorf("a saw the end %s after b's provider call began (the call takes 1.5 s); want within a second of it", lag)
	}
	if _, _, err := a.e.Image(context.Background(), rec.ID, "results", 0); err != nil {
		t.Errorf("result through a: %v", err)
	}
}

// A cancel through a stops the provider call on b at once.
func TestCancelThroughAnotherReplica(t *testing.T) {
	a, b, _ := twoReplicas(t, Config{})
	b.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 20 * time.Second})
	rec := a.submit(t, nil)
	if !b.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		t.Fatal("the job never reached replica b's provider")
	}
	start := time.Now()
	got, err := a.e.Cancel(context.Background(), rec.ID)
	if err != nil || got.Status != StatusCancelled {
		t.Fatalf("Cancel through a = %v, %v; want cancelled", got, err)
	}
	if !b.fake.WaitFor(2*time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
		t.Fatal("b's provider call was not cancelled within 2 s")
	}
	t.Logf("b's provider call cancelled %s after the cancel through a", time.Since(start))
	if r, _ := b.e.Get(context.Background(), rec.ID); r.Status != StatusCancelled || len(b.fake.Requests()) != 1 {
		t.Errorf("on b: %s after %d calls; want cancelled after 1", r.Status, len(b.fake.Requests()))
	}
}

// River's own cancel reaches the worker on the replica running the job
// (PostgreSQL: River notifies that replica's producer, which cancels the
// job's context with ErrJobCancelledRemotely); this checks that path alone,
// without our table's notification.
func TestRiverCancelReachesAnotherReplica(t *testing.T) {
	a, b, bLogs := twoReplicas(t, Config{})
	b.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 20 * time.Second})
	rec := a.submit(t, nil)
	if !b.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		t.Fatal("the job never reached replica b's provider")
	}
	r, err := a.e.st.get(context.Background(), rec.ID)
	if err != nil || r.RiverID == 0 {
		t.Fatalf("row = %+v, %v; want its River id", r, err)
	}
	if err := a.e.q.cancel(context.Background(), r.RiverID); err != nil {
		t.Fatal(err)
	}
	if !b.fake.WaitFor(2*time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
		t.Fatalf("River's cancel through a did not reach b's provider call within 2 s; b's log:\n%s", bLogs)
	}
}

// The S3 path of a job: inputs and results stored through the real S3
// client in an S3-compatible server, read back, and deleted by the cleanup
// when the job expires.
func TestJobOnS3(t *testing.T) {
	srv := s3test.New(t)
	r := newRigOn(t, "", srv.StorageURL(), Config{ResultTTL: time.Hour}, true, io.Discard)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	rec := r.waitEnd(t, r.submit(t, func(s *Submission) { s.Variations = 2 }).ID)
	if rec.Status != StatusSucceeded {
		t.Fatalf("job = %s (%s); want succeeded", rec.Status, rec.ErrorDetail)
	}
	want := []string{inputKey(rec.ID, 0), resultKey(rec.ID, 0), resultKey(rec.ID, 1)}
	if keys := srv.Keys(t, "jobs/"+rec.ID+"/"); !sameSet(keys, want) {
		t.Errorf("bucket holds %q; want %q", keys, want)
	}
	in, _, err := r.e.Image(context.Background(), rec.ID, "inputs", 0)
	if err != nil || string(in) != string(r.photo.Data) || string(srv.Object(t, inputKey(rec.ID, 0))) != string(r.photo.Data) {
		t.Errorf("input read back = %d bytes, %v; want the %d-byte photo", len(in), err, len(r.photo.Data))
	}
	out, ct, err := r.e.Image(context.Background(), rec.ID, "results", 1)
	if err != nil || len(out) == 0 || ct != "image/png" {
		t.Errorf("result read back = %d bytes %q, %v", len(out), ct, err)
	}
	r.e.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if err := (&cleanupWorker{s: r.e.Service}).Work(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys(t, "jobs/"); len(keys) != 0 {
		t.Errorf("after expiry the bucket still holds %q", keys)
	}
	if _, err := r.e.blobs.Get(context.Background(), resultKey(rec.ID, 0)); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("result after cleanup: %v; want not found", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
