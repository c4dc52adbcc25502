// Package pgtest gives tests a PostgreSQL of their own: the database named by
// FRAMEFORGE_TEST_DATABASE_URL (scripts/test provides one, see
// scripts/postgres.sh) and, inside it, a fresh schema or database per test
// that is dropped when the test ends. Tests in different packages run in
// parallel against the same server without seeing each other's tables.
//
// Without FRAMEFORGE_TEST_DATABASE_URL the tests that need PostgreSQL are
// skipped, so `go test ./...` works on a machine without it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvVar names the variable that holds the test database's URL.
const EnvVar = "FRAMEFORGE_TEST_DATABASE_URL"

// adminTimeout bounds each create or drop, so a stuck server fails the test
// with a message rather than hanging it until go test's own timeout.
const adminTimeout = 30 * time.Second

// URL returns the test database's URL, or skips the test when none is set.
// It reads the environment itself (the only place outside main that does):
// this is test set-up, chosen by whoever runs the tests.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		t.Skipf("%s is not set: this test needs PostgreSQL (bash scripts/test starts one; or run: export %s=$(scripts/postgres.sh start))", EnvVar, EnvVar)
	}
	if _, err := parse(u); err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	return u
}

// FreshSchema creates an empty schema in the test database and returns a URL
// whose connections use it (search_path is set to it alone, so unqualified
// CREATE TABLE lands there). The schema and everything in it is dropped when
// the test ends. Notifications (LISTEN/NOTIFY) are per database, not per
// schema; a test that must not hear others' should use FreshDatabase.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := freshName()
	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		exec(t, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	u, _ := parse(base)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// FreshDatabase creates an empty database on the test server and returns its
// URL. It is dropped when the test ends, connections still open included.
// It costs more than FreshSchema (a copy of template1, about 0.1 s) and is for
// tests that need a whole database to themselves.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := freshName()
	exec(t, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		exec(t, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u, _ := parse(base)
	u.Path = "/" + name
	return u.String()
}

// Pool opens a pool on url (from FreshSchema or FreshDatabase) and closes it
// when the test ends, before the schema or database is dropped (cleanups run
// last-registered first).
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("want a postgres:// URL, got %q", u.Redacted())
	}
	return u, nil
}

// freshName is unique across processes, so test binaries running at the same
// time never collide.
func freshName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "test_" + hex.EncodeToString(b)
}

func exec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect to the test database: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
