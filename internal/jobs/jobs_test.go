package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/blobstore"
	"frameforge/internal/imaging"
	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/metrics"
	"frameforge/internal/pgtest"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/secret"
)

// rig is a started engine on a real store (SQLite in a temporary DATA_DIR,
// or a fresh PostgreSQL schema), whose Google provider is the Gemini fake.
type rig struct {
	e       *Engine
	fake    *geminitest.Server
	dataDir string
	photo   frameforge.Image
	reopen  func() *Engine
	metrics *metrics.Metrics // the current engine's
}

type storeKind string

const (
	onSQLite   storeKind = "sqlite"
	onPostgres storeKind = "postgres"
)

// forEachStore runs f on SQLite, and on PostgreSQL when the test database
// is there (scripts/test always provides one).
func forEachStore(t *testing.T, f func(t *testing.T, kind storeKind)) {
	for _, k := range []storeKind{onSQLite, onPostgres} {
		t.Run(string(k), func(t *testing.T) { f(t, k) })
	}
}

func newRig(t *testing.T, kind storeKind, cfg Config) *rig {
	t.Helper()
	dbURL := ""
	if kind == onPostgres {
		dbURL = pgtest.FreshSchema(t)
	}
	return newRigOn(t, dbURL, "", cfg, true, io.Discard)
}

// newRigOn is a rig on the job store dbURL ("": SQLite) and blob store
// storageURL ("": files), whose engine is started when start is set (an
// engine not started serves the API but works no jobs); it logs to logs.
func newRigOn(t *testing.T, dbURL, storageURL string, cfg Config, start bool, logs io.Writer) *rig {
	t.Helper()
	t.Setenv("GEMINI_API_KEY", "")
	t.Setenv("GOOGLE_API_KEY", "")
	log := slog.New(slog.NewTextHandler(logs, nil))
	fake := geminitest.NewServer(t)
	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL, gcfg.BaseBackoff, gcfg.MaxAttempts = fake.URL, time.Millisecond, 1
	reg := provider.NewRegistry(provider.Entry{Spec: provider.Google(), Provider: gemini.New(gcfg, fake.Client(), log),
		ServerKey: fake.Key, Model: gcfg.Model})
	gate := admission.New(4, 4, time.Second)
	m := metrics.New(metrics.Gauges{})
	pipe := pipeline.New(pipeline.Config{Prepare: imaging.Options{MaxSide: 1024}, UpstreamBytes: 4 << 20,
		MaxPixels: 40_000_000, SlotTimeout: 5 * time.Second, DecodeMemory: 1 << 30}, gate, m, log)
	dir := t.TempDir()
	blobs, err := blobstore.Open(context.Background(), storageURL, dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := secret.Load("", dir, "secret_key")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ResultTTL == 0 {
		cfg.ResultTTL = time.Hour
	}
	cfg.Workers = max(cfg.Workers, 2)
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	cfg.EditTimeout = max(cfg.EditTimeout, 10*time.Second)
	cfg.RescueAfter = max(cfg.RescueAfter, time.Minute)
	cfg.IdemWindow = max(cfg.IdemWindow, time.Hour)
	r := &rig{fake: fake, dataDir: dir}
	open := func() *Engine {
		// Each engine registers its collectors on a registry of its own,
		// as each process has.
		r.metrics = metrics.New(metrics.Gauges{})
		e, err := Open(context.Background(), dbURL, dir, cfg, Deps{Registry: reg, Pipeline: pipe, Blobs: blobs, Sealer: sealer,
			Log: log, Register: r.metrics.Register})
		if err != nil {
			t.Fatal(err)
		}
		if start {
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	r.e, r.reopen = open(), open
	t.Cleanup(func() {
		r.stop(t)
		_ = blobs.Close()
	})
	data := imagingtest.JPEG(t, imagingtest.Photo(t, 320, 240), 85)
	r.photo = frameforge.Image{Data: data, ContentType: imaging.TypeJPEG, Width: 320, Height: 240}
	return r
}

// stop stops the engine as a process exiting does.
func (r *rig) stop(t *testing.T) {
	t.Helper()
	if r.e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.e.Stop(ctx)
	r.e = nil
}

// restart stops the engine and opens a new one on the same store, as a
// restarted process does.
func (r *rig) restart(t *testing.T) {
	t.Helper()
	r.stop(t)
	r.e = r.reopen()
}

func (r *rig) submit(t *testing.T, mod func(*Submission)) *Record {
	t.Helper()
	sub := Submission{Owner: "ip:127.0.0.1", Provider: "google", Family: "google", Model: "m", Prompt: "stage it",
		Variations: 1, Images: []frameforge.Image{r.photo}, Hash: "h1"}
	if mod != nil {
		mod(&sub)
	}
	rec, _, err := r.e.Submit(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitEnd waits for the job's terminal status.
func (r *rig) waitEnd(t *testing.T, id string) *Record {
	t.Helper()
	rec, err := r.e.Wait(context.Background(), id, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Status.Terminal() {
		t.Fatalf("job still %s after 30 s", rec.Status)
	}
	return rec
}

func TestJobSucceeds(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		rec := r.submit(t, func(s *Submission) { s.Variations = 2 })
		// A worker may have taken it already (on a busy machine even
		// finished it: PostgreSQL wakes workers at once): never accepting.
		if (rec.Status != StatusQueued && rec.Status != StatusRunning && rec.Status != StatusSucceeded) || len(rec.Inputs) != 1 {
			t.Fatalf("submitted = %s with %d inputs; want queued, running or succeeded with 1", rec.Status, len(rec.Inputs))
		}
		done := r.waitEnd(t, rec.ID)
		if done.Status != StatusSucceeded || len(done.Results) != 2 || done.Attempts != 1 {
			t.Fatalf("job = %s, %d results, %d attempts; want succeeded, 2, 1", done.Status, len(done.Results), done.Attempts)
		}
		for n := range 2 {
			data, ct, err := r.e.Image(context.Background(), rec.ID, "results", n)
			if err != nil || ct != imaging.TypePNG || len(data) == 0 {
				t.Errorf("result %d = %d bytes %q, %v", n, len(data), ct, err)
			}
		}
		in, _, err := r.e.Image(context.Background(), rec.ID, "inputs", 0)
		if err != nil || !bytes.Equal(in, r.photo.Data) {
			t.Errorf("input = %d bytes, %v; want the stored photo", len(in), err)
		}
		if _, _, err := r.e.Image(context.Background(), rec.ID, "results", 2); frameforge.ErrorCode(err) != frameforge.EResultNotFound {
			t.Errorf("result 2 = %v; want result_not_found", err)
		}
		if n := len(r.fake.Requests()); n != 2 {
			t.Errorf("%d provider calls; want 2 (one per variation)", n)
		}
		v := r.e.View(context.Background(), done)
		if v.Results[1].URL != "/api/jobs/"+rec.ID+"/results/1" || v.FinishedAt == nil || v.Error != nil {
			t.Errorf("view = %+v", v)
		}
	})
}

// A submitted job starts at once, not at the next poll: on SQLite the
// insert wakes this process's producer (pollOnlySQLite), on PostgreSQL the
// notification does. Here River's poll is an hour apart, so a queue that
// waited for it would start no job at all: no timing is measured.
func TestJobStartsWithoutWaitingForThePoll(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{fetchPoll: time.Hour})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		for range 3 {
			rec := r.submit(t, nil)
			if !r.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) > 0 }) {
				t.Fatalf("job %s never reached the provider: it waited for the poll", rec.ID)
			}
			r.waitEnd(t, rec.ID)
			r.fake.Reset()
		}
	})
}

func TestRetryableFailureIsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{MaxAttempts: 3})
		r.fake.Script(geminitest.Scenario{Kind: geminitest.Unavailable}, geminitest.Scenario{Kind: geminitest.ImageOnly})
		done := r.waitEnd(t, r.submit(t, nil).ID)
		if done.Status != StatusSucceeded || done.Attempts != 2 {
			t.Errorf("job = %s after %d attempts; want succeeded after 2", done.Status, done.Attempts)
		}
	})
}

func TestRefusalFailsAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{MaxAttempts: 3})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"})
		done := r.waitEnd(t, r.submit(t, nil).ID)
		if done.Status != StatusFailed || done.ErrorCode != frameforge.EContentBlocked || done.Attempts != 1 {
			t.Errorf("job = %s %s after %d attempts; want failed content_blocked after 1", done.Status, done.ErrorCode, done.Attempts)
		}
		if n := len(r.fake.Requests()); n != 1 {
			t.Errorf("%d provider calls; want 1", n)
		}
	})
}

func TestRetriesRunOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{MaxAttempts: 2})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.Unavailable})
		done := r.waitEnd(t, r.submit(t, nil).ID)
		if done.Status != StatusFailed || done.ErrorCode != frameforge.EUpstreamUnavail || done.Attempts != 2 {
			t.Errorf("job = %s %s after %d attempts; want failed upstream_unavailable after 2", done.Status, done.ErrorCode, done.Attempts)
		}
	})
}

func TestCancelRunningJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 20 * time.Second})
		rec := r.submit(t, nil)
		if !r.fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
			t.Fatal("the job never reached the provider")
		}
		got, err := r.e.Cancel(context.Background(), rec.ID)
		if err != nil || got.Status != StatusCancelled {
			t.Fatalf("cancel = %v, %v", got, err)
		}
		if !r.fake.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
			t.Error("the provider call was not cancelled")
		}
		if _, err := r.e.Cancel(context.Background(), rec.ID); frameforge.ErrorCode(err) != frameforge.EJobFinished {
			t.Errorf("second cancel = %v; want job_finished", err)
		}
		time.Sleep(200 * time.Millisecond) // let the worker return: it must not overwrite the status
		if rec, _ := r.e.Get(context.Background(), rec.ID); rec.Status != StatusCancelled {
			t.Errorf("status after the worker returned = %s; want cancelled", rec.Status)
		}
	})
}

func TestIdempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		first := r.submit(t, func(s *Submission) { s.IdemKey = "k-1" })
		sub := Submission{Owner: "ip:127.0.0.1", Provider: "google", Family: "google", Prompt: "stage it", Variations: 1,
			Images: []frameforge.Image{r.photo}, Hash: "h1", IdemKey: "k-1"}
		again, replayed, err := r.e.Submit(context.Background(), sub)
		if err != nil || !replayed || again.ID != first.ID {
			t.Errorf("same request again = %v, replayed %v, %v; want the first job", again, replayed, err)
		}
		sub.Hash = "h2"
		if _, _, err := r.e.Submit(context.Background(), sub); frameforge.ErrorCode(err) != frameforge.EIdemKeyReused {
			t.Errorf("other request, same key = %v; want idempotency_key_reused", err)
		}
		sub.Owner = "ip:10.0.0.1" // someone else's key space
		other, replayed, err := r.e.Submit(context.Background(), sub)
		if err != nil || replayed {
			t.Fatalf("same key, other owner = replayed %v, %v; want a new job", replayed, err)
		}
		r.waitEnd(t, first.ID)
		r.waitEnd(t, other.ID)
		if n := len(r.fake.Requests()); n != 2 {
			t.Errorf("%d provider calls; want 2 (the replay made none)", n)
		}
	})
}

// A key sent with a job is never stored in clear, and is erased when the
// job ends.
func TestKeySealedAndErased(t *testing.T) {
	r := newRig(t, onSQLite, Config{})
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 500 * time.Millisecond})
	const clientKey = "AIzaCLIENTKEYNEVERINCLEAR"
	rec := r.submit(t, func(s *Submission) { s.Key = frameforge.NewKey(clientKey, true) })
	if len(rec.SealedKey) == 0 {
		t.Fatal("no sealed key stored")
	}
	if contains(t, r.dataDir, clientKey) {
		t.Error("the key is in DATA_DIR in clear")
	}
	done := r.waitEnd(t, rec.ID)
	if done.Status != StatusFailed || done.ErrorCode != frameforge.EInvalidAPIKey {
		t.Errorf("job = %s %s; want failed invalid_api_key (the fake does not know the client's key)", done.Status, done.ErrorCode)
	}
	if len(done.SealedKey) != 0 {
		t.Error("the sealed key was not erased when the job ended")
	}
}

func contains(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(s))
		}
		return nil
	})
	return found
}

// Expired jobs are deleted with their inputs and results.
func TestCleanup(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{ResultTTL: time.Hour})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		rec := r.waitEnd(t, r.submit(t, nil).ID)
		r.e.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		if _, err := r.e.Get(context.Background(), rec.ID); frameforge.ErrorCode(err) != frameforge.EJobNotFound {
			t.Errorf("expired job = %v; want job_not_found", err)
		}
		if err := (&cleanupWorker{s: r.e.Service}).Work(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.st.get(context.Background(), rec.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("row after cleanup: %v; want deleted", err)
		}
		if _, err := r.e.blobs.Get(context.Background(), resultKey(rec.ID, 0)); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("result after cleanup: %v; want deleted", err)
		}
	})
}

func TestUnknownJob(t *testing.T) {
	r := newRig(t, onSQLite, Config{})
	for _, id := range []string{"job_nope", strings.Repeat("x", 500)} {
		if _, err := r.e.Get(context.Background(), id); frameforge.ErrorCode(err) != frameforge.EJobNotFound {
			t.Errorf("Get(%.20q) = %v; want job_not_found", id, err)
		}
	}
}

// A second request with the key of a first one still being accepted (its
// row exists, its inputs not yet stored) is told to come back.
func TestIdempotencyInProgress(t *testing.T) {
	r := newRig(t, onSQLite, Config{})
	now := time.Now()
	if err := r.e.st.insert(context.Background(), &Record{ID: "job_first", Owner: "ip:127.0.0.1", Status: StatusAccepting,
		Provider: "google", Family: "google", Variations: 1, CreatedAt: now, UpdatedAt: now, IdemKey: "k", IdemHash: "h1"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.e.Submit(context.Background(), Submission{Owner: "ip:127.0.0.1", Provider: "google", Family: "google",
		Variations: 1, Images: []frameforge.Image{r.photo}, Hash: "h1", IdemKey: "k"})
	if frameforge.ErrorCode(err) != frameforge.EIdemInProgress {
		t.Errorf("Submit = %v; want idempotency_in_progress", err)
	}
}

// Several replicas starting at the same moment against an empty PostgreSQL
// database all come up: the migrations take turns under one advisory lock.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.FreshSchema(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	blobs, err := blobstore.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := secret.NewSealer(bytes.Repeat([]byte{7}, 32))
	cfg := Config{ResultTTL: time.Hour, Workers: 1, MaxAttempts: 3, RetryBackoff: time.Second, RescueAfter: time.Minute,
		EditTimeout: time.Minute, IdemWindow: time.Hour}
	errs := make(chan error, 4)
	engines := make(chan *Engine, 4)
	for range 4 {
		go func() {
			e, err := Open(context.Background(), url, dir, cfg, Deps{Blobs: blobs, Sealer: sealer, Log: log})
			errs <- err
			engines <- e
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("replica start: %v", err)
		}
		if e := <-engines; e != nil {
			e.close()
		}
	}
}

// A two-step job on both stores: the declutter result is stored first and
// is what every stage call gets; the steps survive the round trip through
// the table.
func TestTwoStepJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind storeKind) {
		r := newRig(t, kind, Config{})
		r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
		steps := []Step{{Name: StepDeclutter, Prompt: "empty it"}, {Name: StepStage, Prompt: "stage it"}}
		rec := r.submit(t, func(s *Submission) { s.Variations, s.Steps = 2, steps })
		done := r.waitEnd(t, rec.ID)
		if done.Status != StatusSucceeded || len(done.Results) != 3 || len(done.Steps) != 2 || done.Steps[1] != steps[1] {
			t.Fatalf("job = %s, %d results, steps %+v; want succeeded, 3, the two steps", done.Status, len(done.Results), done.Steps)
		}
		calls := r.fake.Requests()
		if len(calls) != 3 {
			t.Fatalf("%d provider calls; want 3", len(calls))
		}
		first, _, err := r.e.Image(context.Background(), rec.ID, "results", 0)
		if err != nil || !bytes.Equal(first, calls[0].ImageSent) {
			t.Fatalf("results/0 = %d bytes, %v; want the declutter answer", len(first), err)
		}
		for i, c := range calls {
			var prompt string
			var img []byte
			for _, p := range c.Parts() {
				prompt += p.Text
				if img == nil && len(p.Data) > 0 {
					img = p.Data
				}
			}
			wantPrompt, wantStep := "stage it", StepStage
			if i == 0 {
				wantPrompt, wantStep = "empty it", StepDeclutter
			} else if !bytes.Equal(img, first) {
				t.Errorf("call %d's photo is not the declutter result", i)
			}
			if prompt != wantPrompt || done.Results[i].Step != wantStep {
				t.Errorf("call %d: prompt %q, result step %q; want %q, %q", i, prompt, done.Results[i].Step, wantPrompt, wantStep)
			}
		}
	})
}
