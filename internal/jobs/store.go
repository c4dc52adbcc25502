package jobs

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"frameforge/internal/pipeline"
	"frameforge/internal/sqlq"
	"frameforge/internal/structure"
)

// Status is a job's state. "accepting" is internal: the row exists while
// its inputs are being stored, and no client has been told of it yet.
type Status string

// The statuses of a job.
const (
	StatusAccepting Status = "accepting"
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Terminal reports whether the status is final.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled
}

// Image describes one stored picture of a job. A result also says which
// provider and model made it and every provider called for it (more than
// one when its fallback chain was walked).
type Image struct {
	ContentType string             `json:"content_type"`
	Bytes       int64              `json:"bytes"`
	Width       int                `json:"width"`
	Height      int                `json:"height"`
	Provider    string             `json:"provider,omitempty"`
	Model       string             `json:"model,omitempty"`
	Tried       []pipeline.Attempt `json:"tried,omitempty"`
	// Structure is a result's structural-change check (nil: off, not
	// applicable or failed; never set on an input).
	Structure *structure.Report `json:"structure,omitempty"`
	// Step names the step of a job with steps that made this result
	// (StepDeclutter, StepStage); empty for a job of one plain edit.
	Step string `json:"step,omitempty"`
	// Labelled: the disclosure label is drawn on this result.
	Labelled bool `json:"labelled,omitempty"`
}

// The steps a job can have (docs/jobs.md, "Disclosure and decluttering").
const (
	StepDeclutter = "declutter" // empty the room
	StepStage     = "stage"     // furnish the decluttered room
)

// Step is one step of a job with steps: its name and the prompt its
// provider calls get. A declutter job has one step (declutter); declutter
// then stage has two, the second staging the first one's result.
type Step struct {
	Name   string `json:"name"`
	Prompt string `json:"prompt"`
}

// Record is one row of the jobs table: everything known about a job.
type Record struct {
	ID          string
	Owner       string // the API token's id, or "ip:<client key>" without auth
	Status      Status
	Provider    string // the route id: "google", "fal:<model>"
	Family      string
	Model       string
	Prompt      string
	Variations  int
	CreatedAt   time.Time
	StartedAt   time.Time // zero until it first runs
	FinishedAt  time.Time // zero until it ends
	UpdatedAt   time.Time
	Attempts    int
	Inputs      []Image
	Results     []Image
	ErrorCode   string
	ErrorDetail string
	Fallback    bool
	// NoProviderFallback: the request opted out of its provider's fallback
	// chain (fallback=false).
	NoProviderFallback bool
	WebhookURL         string
	// WebhookStatus is pending until the job's terminal event is delivered
	// or given up on (delivered, failed); empty without a webhook_url.
	WebhookStatus   string
	WebhookAttempts int
	Metadata        json.RawMessage
	SealedKey       []byte // the per-request provider key, sealed; nil when none or erased
	RiverID         int64
	IdemKey         string
	IdemHash        string
	// QuotaHold is the API token's quota units the job reserved at
	// submission (an auth hold), until the job ends and they are settled;
	// empty when none.
	QuotaHold string
	// Disclose draws the disclosure label on every final result (the
	// server's policy applied at submission): not on the declutter result
	// of a two-step job, which the stage step edits further.
	Disclose bool
	// Steps are the job's steps; none for a plain edit (one step, Prompt).
	// With two steps (declutter, stage), Results[0] is the declutter result
	// and Results[1:] the Variations staged from it.
	Steps []Step
}

// twoStep reports whether the job declutters first and then stages the
// decluttered room.
func (r *Record) twoStep() bool { return len(r.Steps) == 2 }

// ResultCount is the number of results the job makes when it succeeds:
// one per variation, and one more for the declutter step of a two-step
// job. Each is one provider result, and one quota unit.
func ResultCount(variations int, steps []Step) int {
	if len(steps) == 2 {
		return variations + 1
	}
	return variations
}

// dialect is what differs between SQLite and PostgreSQL in our queries.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

// store is the jobs table, on SQLite or PostgreSQL through database/sql.
// Queries are written with ? placeholders and rebound for PostgreSQL.
type store struct {
	db *sql.DB
	d  dialect
}

// ErrNotFound is a job that does not exist (or expired).
var ErrNotFound = errors.New("jobs: not found")

// errIdemConflict is an insert whose (owner, idempotency key) exists.
var errIdemConflict = errors.New("jobs: idempotency key taken")

// schema is our table; River's tables are River's (rivermigrate). Times are
// Unix milliseconds, the sealed key base64: the same column types work on
// both stores.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS frameforge_jobs (
		id TEXT PRIMARY KEY,
		owner TEXT NOT NULL,
		status TEXT NOT NULL,
		provider TEXT NOT NULL,
		family TEXT NOT NULL,
		model TEXT NOT NULL,
		prompt TEXT NOT NULL,
		variations INTEGER NOT NULL,
		created_ms BIGINT NOT NULL,
		started_ms BIGINT NOT NULL DEFAULT 0,
		finished_ms BIGINT NOT NULL DEFAULT 0,
		updated_ms BIGINT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		inputs TEXT NOT NULL DEFAULT '[]',
		results TEXT NOT NULL DEFAULT '[]',
		error_code TEXT NOT NULL DEFAULT '',
		error_detail TEXT NOT NULL DEFAULT '',
		fallback BOOLEAN NOT NULL DEFAULT FALSE,
		webhook_url TEXT NOT NULL DEFAULT '',
		metadata TEXT NOT NULL DEFAULT '',
		sealed_key TEXT NOT NULL DEFAULT '',
		river_id BIGINT NOT NULL DEFAULT 0,
		idem_key TEXT,
		idem_hash TEXT NOT NULL DEFAULT ''
	)`,
	// Columns added after the first release: addColumns adds them to a
	// table created before.
	`CREATE UNIQUE INDEX IF NOT EXISTS frameforge_jobs_idem ON frameforge_jobs (owner, idem_key)`,
	`CREATE INDEX IF NOT EXISTS frameforge_jobs_status ON frameforge_jobs (status, created_ms)`,
	`CREATE INDEX IF NOT EXISTS frameforge_jobs_owner ON frameforge_jobs (owner, created_ms)`,
	`CREATE INDEX IF NOT EXISTS frameforge_jobs_finished ON frameforge_jobs (finished_ms)`,
}

// addedColumns are the columns added since the table was first created,
// name and definition.
var addedColumns = [][2]string{
	{"webhook_status", "TEXT NOT NULL DEFAULT ''"},
	{"webhook_attempts", "INTEGER NOT NULL DEFAULT 0"},
	{"quota_hold", "TEXT NOT NULL DEFAULT ''"},
	{"no_provider_fallback", "BOOLEAN NOT NULL DEFAULT FALSE"},
	{"disclose", "BOOLEAN NOT NULL DEFAULT FALSE"},
	{"steps", "TEXT NOT NULL DEFAULT ''"},
}

func (s *store) migrate(ctx context.Context) error {
	// One transaction: all or nothing, and on SQLite one commit instead of
	// one per statement (a few milliseconds of every start-up,
	// docs/performance.md, "Start-up").
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("jobs schema: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("jobs schema: %w", err)
		}
	}
	for _, c := range addedColumns {
		// PostgreSQL has ADD COLUMN IF NOT EXISTS; SQLite does not, so
		// there we look first (one process owns a SQLite file; PostgreSQL
		// migrations run under an advisory lock).
		q := `ALTER TABLE frameforge_jobs ADD COLUMN IF NOT EXISTS ` + c[0] + ` ` + c[1]
		if s.d == sqlite {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('frameforge_jobs') WHERE name = ?`, c[0]).Scan(&n); err != nil {
				return fmt.Errorf("jobs schema: %w", err)
			}
			if n > 0 {
				continue
			}
			q = `ALTER TABLE frameforge_jobs ADD COLUMN ` + c[0] + ` ` + c[1]
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("jobs schema: add %s: %w", c[0], err)
		}
	}
	// Jobs queued before webhooks were delivered get theirs when they end;
	// those already ended before then never will, and show no webhook.
	if _, err := tx.ExecContext(ctx, `UPDATE frameforge_jobs SET webhook_status = 'pending'
		WHERE webhook_status = '' AND webhook_url <> '' AND status IN ('accepting', 'queued', 'running')`); err != nil {
		return fmt.Errorf("jobs schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("jobs schema: %w", err)
	}
	return nil
}

// q rebinds ? placeholders for PostgreSQL (sqlq.Rebind).
func (s *store) q(query string) string {
	if s.d == sqlite {
		return query
	}
	return sqlq.Rebind(query)
}

const columns = `id, owner, status, provider, family, model, prompt, variations, created_ms, started_ms, finished_ms,
	updated_ms, attempts, inputs, results, error_code, error_detail, fallback, webhook_url, metadata, sealed_key,
	river_id, idem_key, idem_hash, webhook_status, webhook_attempts, quota_hold, no_provider_fallback, disclose, steps`

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insert adds a job in status accepting. A row with the same owner and
// idempotency key makes it fail with errIdemConflict.
func (s *store) insert(ctx context.Context, r *Record) error {
	in, _ := json.Marshal(r.Inputs)
	steps := ""
	if len(r.Steps) > 0 {
		steps = mustJSON(r.Steps)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO frameforge_jobs (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.Owner, string(r.Status), r.Provider, r.Family, r.Model, r.Prompt, r.Variations,
		sqlq.MS(r.CreatedAt), sqlq.MS(r.StartedAt), sqlq.MS(r.FinishedAt), sqlq.MS(r.UpdatedAt), r.Attempts, string(in), "[]",
		r.ErrorCode, r.ErrorDetail, r.Fallback, r.WebhookURL, string(r.Metadata),
		base64.StdEncoding.EncodeToString(r.SealedKey), r.RiverID, nullable(r.IdemKey), r.IdemHash, r.WebhookStatus, r.WebhookAttempts, r.QuotaHold, r.NoProviderFallback, r.Disclose, steps)
	if err != nil && isUniqueViolation(err) {
		return errIdemConflict
	}
	return err
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

type scanner interface{ Scan(...any) error }

func scanRecord(row scanner) (*Record, error) {
	var r Record
	var status, inputs, results, metadata, sealed, steps string
	var idem sql.NullString
	var created, started, finished, updated int64
	err := row.Scan(&r.ID, &r.Owner, &status, &r.Provider, &r.Family, &r.Model, &r.Prompt, &r.Variations,
		&created, &started, &finished, &updated, &r.Attempts, &inputs, &results, &r.ErrorCode, &r.ErrorDetail,
		&r.Fallback, &r.WebhookURL, &metadata, &sealed, &r.RiverID, &idem, &r.IdemHash, &r.WebhookStatus, &r.WebhookAttempts, &r.QuotaHold, &r.NoProviderFallback, &r.Disclose, &steps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.Status = Status(status)
	r.CreatedAt, r.StartedAt, r.FinishedAt, r.UpdatedAt = sqlq.FromMS(created), sqlq.FromMS(started), sqlq.FromMS(finished), sqlq.FromMS(updated)
	_ = json.Unmarshal([]byte(inputs), &r.Inputs)
	_ = json.Unmarshal([]byte(results), &r.Results)
	if steps != "" {
		_ = json.Unmarshal([]byte(steps), &r.Steps)
	}
	if metadata != "" {
		r.Metadata = json.RawMessage(metadata)
	}
	if sealed != "" {
		r.SealedKey, _ = base64.StdEncoding.DecodeString(sealed)
	}
	r.IdemKey = idem.String
	return &r, nil
}

func (s *store) get(ctx context.Context, id string) (*Record, error) {
	return scanRecord(s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM frameforge_jobs WHERE id = ?`), id))
}

func (s *store) byIdemKey(ctx context.Context, owner, key string) (*Record, error) {
	return scanRecord(s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM frameforge_jobs WHERE owner = ? AND idem_key = ?`), owner, key))
}

// update sets the given columns where the job is in one of the statuses
// from (none: any), and reports whether a row changed. Every change moves
// updated_ms, which is what event streams watch.
func (s *store) update(ctx context.Context, id string, from []Status, set map[string]any) (bool, error) {
	var cols []string
	var args []any
	for k, v := range set {
		cols = append(cols, k+" = ?")
		args = append(args, v)
	}
	cols = append(cols, "updated_ms = ?")
	args = append(args, time.Now().UnixMilli(), id)
	query := `UPDATE frameforge_jobs SET ` + strings.Join(cols, ", ") + ` WHERE id = ?`
	if len(from) > 0 {
		query += ` AND status IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ") + `)`
		for _, st := range from {
			args = append(args, string(st))
		}
	}
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// queuePosition is the number of queued jobs created before this one, plus
// one.
func (s *store) queuePosition(ctx context.Context, created time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM frameforge_jobs WHERE status = ? AND created_ms < ?`),
		string(StatusQueued), sqlq.MS(created)).Scan(&n)
	return n + 1, err
}

// list returns the owner's jobs, newest first, after the job with id after
// (when set).
func (s *store) list(ctx context.Context, owner, after string, limit int) ([]*Record, error) {
	query := `SELECT ` + columns + ` FROM frameforge_jobs WHERE owner = ? AND status <> ?`
	args := []any{owner, string(StatusAccepting)}
	if after != "" {
		query += ` AND (created_ms, id) < (SELECT created_ms, id FROM frameforge_jobs WHERE id = ?)`
		args = append(args, after)
	}
	query += ` ORDER BY created_ms DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ids returns the ids of jobs matching a where clause (for cleanup and
// recovery).
func (s *store) ids(ctx context.Context, where string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM frameforge_jobs WHERE `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// takeHold clears the job's quota hold if it is still hold, and reports
// whether this caller took it: of two settlers (a worker, the cleanup) only
// one settles. It leaves updated_ms alone: nothing a client sees changed.
func (s *store) takeHold(ctx context.Context, id, hold string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE frameforge_jobs SET quota_hold = '' WHERE id = ? AND quota_hold = ?`), id, hold)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *store) delete(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM frameforge_jobs WHERE id = ?`), id)
	return err
}

// counts returns the number of jobs per status, and the creation time of
// the oldest queued job (zero when none), for the metrics.
func (s *store) counts(ctx context.Context) (map[Status]int, time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*), MIN(created_ms) FROM frameforge_jobs GROUP BY status`)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	out := map[Status]int{}
	var oldest time.Time
	for rows.Next() {
		var st string
		var n int
		var minCreated int64
		if err := rows.Scan(&st, &n, &minCreated); err != nil {
			return nil, time.Time{}, err
		}
		out[Status(st)] = n
		if Status(st) == StatusQueued {
			oldest = sqlq.FromMS(minCreated)
		}
	}
	return out, oldest, rows.Err()
}
