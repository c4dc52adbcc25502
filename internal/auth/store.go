package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/ratelimit"
	"frameforge/internal/sqlq"
)

// NoQuota is a token's quota when it has none.
const NoQuota = -1

// Period is what a quota counts over: a calendar month or day, in UTC.
type Period string

// The periods.
const (
	Month Period = "month"
	Day   Period = "day"
)

// ParsePeriod reads "month" or "day" (empty is month).
func ParsePeriod(s string) (Period, error) {
	switch p := Period(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return Month, nil
	case Month, Day:
		return p, nil
	}
	return "", fmt.Errorf("want day or month, got %q", s)
}

// Bounds returns the period holding t: [start, end) in UTC.
func (p Period) Bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	if p == Day {
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// Token is what is known of a token; never its secret.
type Token struct {
	ID       string
	Name     string
	Created  time.Time
	LastUsed time.Time // zero: never used
	Expires  time.Time // zero: never
	Revoked  time.Time // zero: not revoked
	Rate     ratelimit.Rule
	Quota    int64 // successful edits per Period; NoQuota: unlimited
	Period   Period
}

// Store keeps tokens and their usage in the jobs' database (SQLite or
// PostgreSQL). Every look-up goes to the database, so a revocation made by
// the CLI, or on another replica, holds at once. It is safe for concurrent
// use.
type Store struct {
	db  *sql.DB
	pg  bool
	now func() time.Time
}

// ErrNotFound is a token id that does not exist.
var ErrNotFound = errors.New("auth: no such token")

var schema = []string{
	`CREATE TABLE IF NOT EXISTS frameforge_tokens (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		hash TEXT NOT NULL UNIQUE,
		created_ms BIGINT NOT NULL,
		last_used_ms BIGINT NOT NULL DEFAULT 0,
		expires_ms BIGINT NOT NULL DEFAULT 0,
		revoked_ms BIGINT NOT NULL DEFAULT 0,
		rate TEXT NOT NULL DEFAULT '',
		quota BIGINT NOT NULL DEFAULT -1,
		period TEXT NOT NULL DEFAULT 'month'
	)`,
	// used counts the units of a period: edits that succeeded and edits
	// still running (each holds its unit until it ends). Reservations are
	// one conditional UPDATE of this row, which is what makes them atomic.
	`CREATE TABLE IF NOT EXISTS frameforge_token_usage (
		token_id TEXT NOT NULL,
		period_start_ms BIGINT NOT NULL,
		used BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (token_id, period_start_ms)
	)`,
	// The successful edits of a period by provider family, for /api/usage.
	`CREATE TABLE IF NOT EXISTS frameforge_token_edits (
		token_id TEXT NOT NULL,
		period_start_ms BIGINT NOT NULL,
		provider TEXT NOT NULL,
		edits BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (token_id, period_start_ms, provider)
	)`,
}

// advisoryLock serialises migrations of replicas (and the CLI) starting
// together on an empty PostgreSQL: concurrent CREATE TABLE IF NOT EXISTS can
// fail there. Its own number: the job store holds another at the same time.
const advisoryLock = 7248190532

// Option adjusts a Store at Open.
type Option func(*Store)

// WithClock makes the store read the time from now instead of time.Now.
// Quota periods are calendar periods, so tests that must not straddle a
// period boundary run on a clock that does not.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open returns the store on db, whose kind is "sqlite" or "postgres" (as
// jobs.Engine.Kind says), creating its tables if needed.
func Open(ctx context.Context, db *sql.DB, kind string, opts ...Option) (*Store, error) {
	s := &Store{db: db, pg: kind == "postgres", now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	exec := s.db.ExecContext
	if s.pg {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+strconv.Itoa(advisoryLock)+`)`); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+strconv.Itoa(advisoryLock)+`)`) //nolint:errcheck // the lock also ends with the session
		exec = conn.ExecContext
	}
	for _, q := range schema {
		if _, err := exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// q rebinds ? placeholders for PostgreSQL (sqlq.Rebind).
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	return sqlq.Rebind(query)
}

// NewToken is what `tokens create` asks for.
type NewToken struct {
	Name    string
	Rate    ratelimit.Rule // zero: RATE_LIMIT_EDIT applies
	Quota   int64          // NoQuota: unlimited
	Period  Period
	Expires time.Duration // 0: never
}

// Create makes a token and returns it with its secret, the only time the
// secret exists outside the client: only its hash is stored.
func (s *Store) Create(ctx context.Context, n NewToken) (Token, string, error) {
	if n.Period == "" {
		n.Period = Month
	}
	now := s.now()
	t := Token{ID: newID(), Name: n.Name, Created: now.UTC().Truncate(time.Millisecond), Rate: n.Rate, Quota: n.Quota, Period: n.Period}
	if n.Expires > 0 {
		t.Expires = t.Created.Add(n.Expires)
	}
	secret := newSecret()
	rate := ""
	if !n.Rate.Off() {
		rate = n.Rate.String()
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO frameforge_tokens (id, name, hash, created_ms, expires_ms, rate, quota, period)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), t.ID, t.Name, hash(secret), sqlq.MS(t.Created), sqlq.MS(t.Expires), rate, t.Quota, string(t.Period))
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

const tokenColumns = `id, name, hash, created_ms, last_used_ms, expires_ms, revoked_ms, rate, quota, period`

func scanToken(row interface{ Scan(...any) error }) (Token, string, error) {
	var t Token
	var h, rate, period string
	var created, used, expires, revoked int64
	err := row.Scan(&t.ID, &t.Name, &h, &created, &used, &expires, &revoked, &rate, &t.Quota, &period)
	if err != nil {
		return Token{}, "", err
	}
	t.Created, t.LastUsed, t.Expires, t.Revoked = sqlq.FromMS(created), sqlq.FromMS(used), sqlq.FromMS(expires), sqlq.FromMS(revoked)
	t.Period = Period(period)
	if rate != "" {
		t.Rate, _ = ratelimit.ParseRule(rate) // written by Create from a parsed rule
	}
	return t, h, nil
}

// Authenticate returns the token whose secret this is. A token that is not
// valid (malformed, unknown), revoked or expired is an EUnauthorized error
// whose message says which, never quoting the secret.
func (s *Store) Authenticate(ctx context.Context, secret string) (Token, error) {
	if !wellFormed(secret) {
		return Token{}, errNotValid()
	}
	want := hash(secret)
	// The look-up is by hash: what an attacker controls (the secret) does
	// not reach the index; the compare after it is in constant time.
	t, h, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenColumns+` FROM frameforge_tokens WHERE hash = ?`), want))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sameHash(h, want)) {
		return Token{}, errNotValid()
	}
	if err != nil {
		return Token{}, fmt.Errorf("token look-up: %w", err)
	}
	now := s.now()
	switch {
	case !t.Revoked.IsZero():
		return Token{}, frameforge.Errorf(frameforge.EUnauthorized, "The API token %s (%s) was revoked on %s; ask the operator for a new one.",
			t.ID, t.Name, t.Revoked.Format(time.DateOnly))
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return Token{}, frameforge.Errorf(frameforge.EUnauthorized, "The API token %s (%s) expired on %s; ask the operator for a new one.",
			t.ID, t.Name, t.Expires.Format(time.RFC3339))
	}
	// Last use to the minute: one write per token and minute, not per
	// request.
	if now.Sub(t.LastUsed) > time.Minute {
		_, _ = s.db.ExecContext(ctx, s.q(`UPDATE frameforge_tokens SET last_used_ms = ? WHERE id = ?`), now.UnixMilli(), t.ID)
		t.LastUsed = now
	}
	return t, nil
}

func errNotValid() error {
	return frameforge.Errorf(frameforge.EUnauthorized, "The API token is not valid: no token of this server matches it (check that it was copied whole).")
}

// Listed is a token with its units used in the current period.
type Listed struct {
	Token
	Used int64
}

// List returns every token, oldest first, with what it used this period.
func (s *Store) List(ctx context.Context) ([]Listed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM frameforge_tokens ORDER BY created_ms, id`)
	if err != nil {
		return nil, err
	}
	var out []Listed
	for rows.Next() {
		t, _, err := scanToken(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, Listed{Token: t})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	for i := range out {
		start, _ := out[i].Period.Bounds(now)
		if out[i].Used, err = s.used(ctx, out[i].ID, start); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) used(ctx context.Context, id string, start time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT used FROM frameforge_token_usage WHERE token_id = ? AND period_start_ms = ?`),
		id, start.UnixMilli()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Revoke ends a token now. An unknown id is ErrNotFound; revoking a revoked
// token again keeps its first date.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE frameforge_tokens SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ? ELSE revoked_ms END WHERE id = ?`),
		s.now().UnixMilli(), id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return err
	}
	return nil
}

// Hold is units of a token's period reserved for edits not finished yet:
// "<token id>|<period start ms>|<units>". The empty Hold holds nothing. A
// job keeps its hold in its row until its worker settles it.
type Hold string

func newHold(id string, start time.Time, units int) Hold {
	return Hold(id + "|" + strconv.FormatInt(start.UnixMilli(), 10) + "|" + strconv.Itoa(units))
}

func (h Hold) parse() (id string, start int64, units int, ok bool) {
	parts := strings.Split(string(h), "|")
	if len(parts) != 3 {
		return "", 0, 0, false
	}
	start, err1 := strconv.ParseInt(parts[1], 10, 64)
	units, err2 := strconv.Atoi(parts[2])
	return parts[0], start, units, err1 == nil && err2 == nil && units > 0
}

// Reserve takes units of the token's current period for edits about to
// run, atomically: of many concurrent reservations against n units left,
// exactly those that fit succeed. Without room it returns an
// EQuotaExceeded error that says when the period resets. remaining is what
// is left after this reservation (NoQuota when the token has no quota).
// Tokens without a quota reserve too: their units are their usage.
func (s *Store) Reserve(ctx context.Context, t Token, units int) (h Hold, remaining int64, err error) {
	start, end := t.Period.Bounds(s.now())
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO frameforge_token_usage (token_id, period_start_ms, used) VALUES (?, ?, 0)
		ON CONFLICT (token_id, period_start_ms) DO NOTHING`), t.ID, start.UnixMilli()); err != nil {
		return "", 0, fmt.Errorf("reserve quota: %w", err)
	}
	// One statement: the row lock (PostgreSQL) or the single writer
	// (SQLite) makes the check and the increment one step.
	query := `UPDATE frameforge_token_usage SET used = used + ? WHERE token_id = ? AND period_start_ms = ?`
	args := []any{units, t.ID, start.UnixMilli()}
	if t.Quota != NoQuota {
		query += ` AND used + ? <= ?`
		args = append(args, units, t.Quota)
	}
	var used int64
	err = s.db.QueryRowContext(ctx, s.q(query+` RETURNING used`), args...).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		left, _ := s.used(ctx, t.ID, start)
		return "", 0, &frameforge.Error{Code: frameforge.EQuotaExceeded, RetryAfter: end.Sub(s.now()),
			Message: fmt.Sprintf("The API token's quota of %d edits per %s is used up: %d left, this request needs %d. The quota resets at %s.",
				t.Quota, t.Period, max(t.Quota-left, 0), units, end.Format(time.RFC3339))}
	}
	if err != nil {
		return "", 0, fmt.Errorf("reserve quota: %w", err)
	}
	remaining = NoQuota
	if t.Quota != NoQuota {
		remaining = t.Quota - used
	}
	return newHold(t.ID, start, units), remaining, nil
}

// Settle ends a hold: kept units become successful edits of provider (a
// family: "google", "fal"); the rest are given back. Each hold must be
// settled once.
func (s *Store) Settle(ctx context.Context, h string, kept int, provider string) error {
	id, start, units, ok := Hold(h).parse()
	if !ok {
		return nil
	}
	kept = min(max(kept, 0), units)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if back := units - kept; back > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE frameforge_token_usage SET used = used - ? WHERE token_id = ? AND period_start_ms = ?`),
			back, id, start); err != nil {
			return err
		}
	}
	if kept > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO frameforge_token_edits (token_id, period_start_ms, provider, edits) VALUES (?, ?, ?, ?)
			ON CONFLICT (token_id, period_start_ms, provider) DO UPDATE SET edits = frameforge_token_edits.edits + excluded.edits`),
			id, start, provider, kept); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Usage is a token's current period.
type Usage struct {
	Start, End time.Time
	Quota      int64 // NoQuota: unlimited
	Used       int64 // successful edits and edits still running
	ByProvider map[string]int64
}

// Usage returns the token's current period.
func (s *Store) Usage(ctx context.Context, t Token) (Usage, error) {
	u := Usage{Quota: t.Quota, ByProvider: map[string]int64{}}
	u.Start, u.End = t.Period.Bounds(s.now())
	var err error
	if u.Used, err = s.used(ctx, t.ID, u.Start); err != nil {
		return u, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT provider, edits FROM frameforge_token_edits WHERE token_id = ? AND period_start_ms = ?`),
		t.ID, u.Start.UnixMilli())
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			return u, err
		}
		u.ByProvider[p] = n
	}
	return u, rows.Err()
}
