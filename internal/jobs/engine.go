package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, "sqlite"

	"frameforge/internal/admission"
	"frameforge/internal/blobstore"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
	"frameforge/internal/secret"
	"frameforge/internal/webhook"
)

// Deps are what the job engine uses and does not own.
type Deps struct {
	Registry *provider.Registry
	Pipeline *pipeline.Pipeline
	Blobs    *blobstore.Store
	Sealer   *secret.Sealer
	Log      *slog.Logger
	// Register adds the job metrics to the server's registry (nil: none).
	Register func(...prometheus.Collector) error
}

// Engine is the job service with its queue and store.
type Engine struct {
	*Service
	kind  string // "sqlite" or "postgres", for the log
	start func(context.Context) error
	stop  func(context.Context) error
	close func()
}

// Open connects to the job store (databaseURL empty: SQLite in dataDir;
// postgres://…: PostgreSQL), runs the migrations (River's and ours), puts
// back jobs a previous process left running (SQLite), and returns an engine
// ready to Start.
func Open(ctx context.Context, databaseURL, dataDir string, cfg Config, d Deps) (*Engine, error) {
	s := &Service{cfg: cfg, blobs: d.Blobs, sealer: d.Sealer, log: d.Log, cancel: newCancels(), now: time.Now, poll: pollAlone}
	hcfg := cfg.Webhook
	if len(hcfg.Secret) == 0 {
		key, err := webhook.LoadSecret("", dataDir)
		if err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
		hcfg.Secret = key
	}
	hooks, err := webhook.New(hcfg)
	if err != nil {
		return nil, err
	}
	s.hooks = hooks
	m := newMetrics(s)
	s.m = m
	if d.Register != nil {
		if err := d.Register(m.collectors()...); err != nil {
			return nil, err
		}
	}
	gate := admission.New(max(cfg.Workers, 1), 0, cfg.EditTimeout)
	w := &editWorker{s: s, reg: d.Registry, pipe: d.Pipeline, gate: gate, m: m}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	river.AddWorker(workers, &cleanupWorker{s: s})
	river.AddWorker(workers, &webhookWorker{s: s})
	rcfg := &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(cfg.Workers, 1)}},
		Workers:              workers,
		Logger:               riverLogger(d.Log),
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           -1,
		// Our table is the jobs' history; River's finished rows are only
		// bookkeeping.
		CompletedJobRetentionPeriod: time.Hour,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cleanupEvery(cfg.ResultTTL)),
			func() (river.JobArgs, *river.InsertOpts) { return cleanupArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})},
	}
	e := &Engine{Service: s}
	open := func() error { return openPostgres(ctx, e, databaseURL, rcfg, cfg) }
	if databaseURL == "" {
		open = func() error { return openSQLite(ctx, e, filepath.Join(dataDir, "frameforge.db"), rcfg, cfg) }
	} else if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return nil, errors.New("DATABASE_URL: must be postgres://… (or empty for the embedded SQLite store)")
	}
	// A half-opened engine is never handed out: its Stop would have nothing
	// to stop.
	if err := open(); err != nil {
		return nil, err
	}
	return e, nil
}

// Kind is "sqlite" or "postgres".
func (e *Engine) Kind() string { return e.kind }

// DB is the job store's database, for the other tables that live beside the
// jobs (API tokens and their usage): one database, one connection pool, and
// on SQLite one file with its one writer.
func (e *Engine) DB() *sql.DB { return e.st.db }

// UseQuota gives the engine what settles the quota units jobs reserved
// (before Start; without it holds are left alone).
func (e *Engine) UseQuota(q Quota) { e.quota = q }

// OpenDB opens the job store's database alone, without the queue, for
// commands that work on the tables beside the jobs while a server may be
// running (frameforge tokens). It returns the database and its kind
// ("sqlite" or "postgres"); the caller closes it.
func OpenDB(ctx context.Context, databaseURL, dataDir string) (*sql.DB, string, error) {
	if databaseURL == "" {
		path := filepath.Join(dataDir, "frameforge.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", fmt.Errorf("DATA_DIR: %w", err)
		}
		db, err := sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			return nil, "", err
		}
		db.SetMaxOpenConns(1)
		return db, "sqlite", nil
	}
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return nil, "", errors.New("DATABASE_URL: must be postgres://… (or empty for the embedded SQLite store)")
	}
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("DATABASE_URL: cannot connect: %w", err)
	}
	return db, "postgres", nil
}

// sqliteDSN is how every process opens the SQLite file. WAL lets readers
// (event streams, GETs) run beside the writer; busy_timeout covers another
// process (the tokens command) writing at the same moment.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Start begins working jobs.
func (e *Engine) Start(ctx context.Context) error { return e.start(ctx) }

// Stop stops fetching jobs and waits for the running ones until ctx ends,
// then cancels them (each is put back for the next start) and closes the
// store.
func (e *Engine) Stop(ctx context.Context) error {
	err := e.stop(ctx)
	e.close()
	return err
}

func openSQLite(ctx context.Context, e *Engine, path string, rcfg *river.Config, cfg Config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	// One connection, because SQLite allows one writer and River's driver
	// says so.
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	driver := pollOnlySQLite{riversqlite.New(db)}
	if err := migrate(ctx, driver, &store{db: db, d: sqlite}); err != nil {
		db.Close()
		return err
	}
	st := &store{db: db, d: sqlite}
	// One process owns this file: whatever was running when the last one
	// died runs again now, not after the rescue delay.
	if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', attempted_by = NULL WHERE state = 'running'`); err != nil {
		db.Close()
		return fmt.Errorf("put back running jobs: %w", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE frameforge_jobs SET status = 'queued' WHERE status = 'running'`); err != nil {
		db.Close()
		return fmt.Errorf("put back running jobs: %w", err)
	}
	// No LISTEN/NOTIFY on SQLite: River runs poll-only, and a job inserted
	// here wakes this process's producer at once (pollOnlySQLite). The poll
	// only finds what no insert announced (a retry whose wait is over, a job
	// put back above): River's default second is soon enough for those, and
	// a poll re-parses River's fetch statement, which at every 25 ms cost
	// ~40 ms of CPU per second, idle or not (docs/performance.md, "The fast
	// path").
	rcfg.PollOnly = true
	rcfg.FetchPollInterval = cmp.Or(cfg.fetchPoll, time.Second)
	rcfg.FetchCooldown = 10 * time.Millisecond
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		db.Close()
		return err
	}
	e.kind = "sqlite"
	e.st = st
	e.q = riverQueue[*sql.Tx]{c: client, maxAttempts: cfg.MaxAttempts}
	e.start, e.stop = client.Start, stopper(client.Stop, client.StopAndCancel)
	e.close = func() { db.Close() }
	return nil
}

func openPostgres(ctx context.Context, e *Engine, url string, rcfg *river.Config, cfg Config) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("DATABASE_URL: cannot connect: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	st := &store{db: db, d: postgres}
	driver := riverpgxv5.New(pool)
	// Several replicas may start at once against an empty database: one
	// migrates while the others wait on the same advisory lock.
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock(7248190531)`)
	}
	if err == nil {
		err = migrate(ctx, driver, st)
		for _, q := range notifySchema {
			if err == nil {
				_, err = conn.ExecContext(ctx, q)
			}
		}
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7248190531)`)
	}
	if conn != nil {
		conn.Close()
	}
	if err != nil {
		db.Close()
		pool.Close()
		return err
	}
	// River hears of new jobs through LISTEN/NOTIFY; the poll is the
	// fallback for a missed notification, and the cooldown bounds how soon
	// after one fetch the next may run.
	rcfg.FetchPollInterval = cmp.Or(cfg.fetchPoll, 250*time.Millisecond)
	rcfg.FetchCooldown = 10 * time.Millisecond
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		db.Close()
		pool.Close()
		return err
	}
	e.kind = "postgres"
	e.st = st
	e.q = riverQueue[pgxTx]{c: client, maxAttempts: cfg.MaxAttempts}
	e.poll = pollWithListener
	// Listening starts now, not at Start: a replica serves event streams
	// whether or not it works jobs.
	lctx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	var listening sync.WaitGroup
	listening.Go(func() { e.listen(lctx, pool) })
	e.start = client.Start
	e.stop = stopper(client.Stop, client.StopAndCancel)
	e.close = func() {
		stopListening()
		listening.Wait()
		db.Close()
		pool.Close()
	}
	return nil
}

// migrate runs River's migrations, then ours. Both are idempotent.
func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], st *store) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return st.migrate(ctx)
}

type pgxTx = pgx.Tx

// stopper stops softly until ctx ends, then cancels the running jobs (the
// worker puts each back) and waits a little for that.
func stopper(soft, hard func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := soft(ctx)
		if err == nil || ctx.Err() == nil {
			return err
		}
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hard(hctx)
	}
}

// riverQueue adapts a River client of either transaction type.
type riverQueue[TTx any] struct {
	c           *river.Client[TTx]
	maxAttempts int
}

func (q riverQueue[TTx]) insert(ctx context.Context, jobID string, variations int) (int64, error) {
	// River counts every run, including ones a dead process never
	// finished; our worker counts real attempts (JOB_MAX_ATTEMPTS). The
	// margin lets crash recoveries through; past it the cleanup marks the
	// job failed.
	res, err := q.c.Insert(ctx, editArgs{JobID: jobID, Variations: variations}, &river.InsertOpts{MaxAttempts: q.maxAttempts + 5})
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (q riverQueue[TTx]) insertWebhook(ctx context.Context, jobID, typ string) error {
	// Snoozes do not count as attempts; the margin covers runs a dying
	// process never finished and errors of our own store.
	// Unique by its arguments: the cleanup may queue a delivery again when
	// it finds one still pending, and River then keeps the one it has.
	_, err := q.c.Insert(ctx, webhookArgs{JobID: jobID, Type: typ}, &river.InsertOpts{MaxAttempts: 10,
		UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}

func (q riverQueue[TTx]) cancel(ctx context.Context, riverID int64) error {
	_, err := q.c.JobCancel(ctx, riverID)
	if errors.Is(err, river.ErrNotFound) {
		return nil
	}
	return err
}

// cleanupEvery is how often expired jobs are deleted: often enough that a
// short RESULT_TTL is honoured within a tenth of it, at most every 10 min.
func cleanupEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/10, 10*time.Second), 10*time.Minute)
}

type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return "frameforge_cleanup" }

// cleanupWorker deletes expired jobs with their inputs and results, removes
// submissions that never finished being accepted, and ends jobs whose queue
// entry is gone (River gave up on them after repeated crashes): an accepted
// job always ends.
type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	s *Service
}

func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	s := w.s
	now := s.now()
	expired, err := s.st.ids(ctx, `finished_ms > 0 AND finished_ms < ?`, now.Add(-s.cfg.ResultTTL).UnixMilli())
	if err != nil {
		return err
	}
	stale, err := s.st.ids(ctx, `status = ? AND created_ms < ?`, string(StatusAccepting), now.Add(-10*time.Minute).UnixMilli())
	if err != nil {
		return err
	}
	for _, id := range stale {
		// A submission that never finished gives its quota units back.
		if rec, err := s.st.get(ctx, id); err == nil && rec.QuotaHold != "" && s.quota != nil {
			if ok, _ := s.st.takeHold(ctx, id, rec.QuotaHold); ok {
				_ = s.quota.Settle(ctx, rec.QuotaHold, 0, rec.Family)
			}
		}
	}
	for _, id := range append(expired, stale...) {
		s.settle(ctx, id) // an ended job whose settling a dead process missed
		if err := s.blobs.DeletePrefix(ctx, "jobs/"+id+"/"); err != nil {
			return err
		}
		if err := s.st.delete(ctx, id); err != nil {
			return err
		}
	}
	orphans, err := s.st.ids(ctx, `status IN (?, ?) AND updated_ms < ? AND NOT EXISTS (SELECT 1 FROM river_job r
		WHERE r.id = frameforge_jobs.river_id AND r.state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))`,
		string(StatusQueued), string(StatusRunning), now.Add(-s.cfg.RescueAfter).UnixMilli())
	if err != nil {
		return err
	}
	for _, id := range orphans {
		_, err := s.st.update(ctx, id, []Status{StatusQueued, StatusRunning}, map[string]any{
			"status": string(StatusFailed), "finished_ms": now.UnixMilli(), "sealed_key": "",
			"error_code": "interrupted", "error_detail": "The job was interrupted too many times (the server stopped while running it) and was given up.",
		})
		if err != nil {
			return err
		}
		s.settle(ctx, id)
		s.changed(id, StatusFailed)
		if rec, err := s.st.get(ctx, id); err == nil {
			s.queueWebhook(ctx, rec, StatusFailed)
		}
	}
	// Ending a job and settling its quota units are two writes too.
	unsettled, err := s.st.ids(ctx, `finished_ms > 0 AND finished_ms < ? AND quota_hold <> ''`, now.Add(-time.Minute).UnixMilli())
	if err != nil {
		return err
	}
	for _, id := range unsettled {
		s.settle(ctx, id)
	}
	// Ending a job and queueing its delivery are two writes: a process that
	// died between them left a delivery pending with nothing queued. Queue
	// it again (a delivery still queued is kept, unique by its arguments).
	pending, err := s.st.ids(ctx, `finished_ms > 0 AND finished_ms < ? AND webhook_url <> '' AND webhook_status = ?`,
		now.Add(-time.Minute).UnixMilli(), WebhookPending)
	if err != nil {
		return err
	}
	for _, id := range pending {
		if rec, err := s.st.get(ctx, id); err == nil && rec.Status.Terminal() {
			s.queueWebhook(ctx, rec, rec.Status)
		}
	}
	if n := len(expired) + len(stale) + len(orphans); n > 0 {
		s.log.InfoContext(ctx, "job cleanup", "expired", len(expired), "abandoned_submissions", len(stale), "given_up", len(orphans))
	}
	return nil
}

// Metrics are the job collectors.
type Metrics struct {
	s        *Service
	wait     prometheus.Histogram
	run      prometheus.Histogram
	finishes *prometheus.CounterVec
	webhookMetrics

	mu     sync.Mutex
	at     time.Time
	counts map[Status]int
	oldest time.Time
}

func newMetrics(s *Service) *Metrics {
	return &Metrics{
		s: s,
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "frameforge_job_queue_wait_seconds", Help: "Time from submission to the first run of a job.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600},
		}),
		run: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "frameforge_job_run_seconds", Help: "Time one attempt of a job runs (all its variations).",
			Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600},
		}),
		finishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_jobs_finished_total", Help: "Jobs ended on this replica, by outcome.",
		}, []string{"outcome"}),
		webhookMetrics: newWebhookMetrics(),
	}
}

func (m *Metrics) observeWait(ms int64)       { m.wait.Observe(float64(ms) / 1000) }
func (m *Metrics) observeRun(d time.Duration) { m.run.Observe(d.Seconds()) }
func (m *Metrics) finished(st Status)         { m.finishes.WithLabelValues(string(st)).Inc() }

func (m *Metrics) collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{m.wait, m.run, m.finishes, m.webhooks, m.webhookAttempts, m.webhookLatency,
		gauge("frameforge_jobs_queued", "Jobs waiting to run (all replicas).", func() float64 { return float64(m.snapshot()[StatusQueued]) }),
		gauge("frameforge_jobs_running", "Jobs running (all replicas).", func() float64 { return float64(m.snapshot()[StatusRunning]) }),
		gauge("frameforge_jobs_oldest_queued_age_seconds", "Age of the oldest queued job (0 when none).", func() float64 {
			m.snapshot()
			if m.oldest.IsZero() {
				return 0
			}
			return time.Since(m.oldest).Seconds()
		}),
	}
}

// snapshot reads the counts once per second at most: three gauges of one
// scrape share one query.
func (m *Metrics) snapshot() map[Status]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.at) > time.Second && m.s.st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if c, oldest, err := m.s.st.counts(ctx); err == nil {
			m.counts, m.oldest, m.at = c, oldest, time.Now()
		}
	}
	return m.counts
}

// pollOnlySQLite is River's SQLite driver for a client in poll-only mode.
// The driver reports a listener (its own poll of a notification table),
// and River wakes a producer on an insert in the same process only when
// the driver has none; poll-only, nothing would listen, so without this
// every job waited for the next poll. Saying "no listener" is the truth
// for how the client runs it.
type pollOnlySQLite struct{ *riversqlite.Driver }

func (pollOnlySQLite) SupportsListener() bool { return false }
