package pgtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"frameforge/internal/pgtest"
)

// TestFreshSchemaIsolates creates the same table in two fresh schemas: each
// connection sees only its own rows, and the schemas are gone after the test.
func TestFreshSchemaIsolates(t *testing.T) {
	ctx := t.Context()
	var names []string
	t.Run("two schemas", func(t *testing.T) {
		for _, word := range []string{"first", "second"} {
			pool := pgtest.Pool(t, pgtest.FreshSchema(t))
			if _, err := pool.Exec(ctx, "CREATE TABLE jobs (word text)"); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "INSERT INTO jobs VALUES ($1)", word); err != nil {
				t.Fatal(err)
			}
			var got, schema string
			if err := pool.QueryRow(ctx, "SELECT string_agg(word, ','), current_schema() FROM jobs").Scan(&got, &schema); err != nil {
				t.Fatal(err)
			}
			if got != word {
				t.Errorf("jobs in %s = %q, want only %q", schema, got, word)
			}
			names = append(names, schema)
		}
	})
	conn := connect(t, pgtest.URL(t))
	for _, name := range names {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("schema %s still exists after its test ended", name)
		}
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Errorf("schemas = %v, want two different ones", names)
	}
}

// TestFreshDatabaseDropped checks that a fresh database is usable and is
// dropped at the end of its test even while a connection is still open.
func TestFreshDatabaseDropped(t *testing.T) {
	ctx := t.Context()
	var name string
	outer := t
	t.Run("database", func(t *testing.T) {
		conn := connect(t, pgtest.FreshDatabase(t))
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name == "" || name == "frameforge_test" {
			t.Fatalf("current_database() = %q, want a fresh one", name)
		}
		// Left open until the outer test ends, after the drop: the drop
		// must not wait for it.
		other, err := pgx.Connect(ctx, conn.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		outer.Cleanup(func() { other.Close(context.Background()) })
	})
	var n int
	err := connect(t, pgtest.URL(t)).QueryRow(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", name).Scan(&n)
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("database %s still exists after its test ended (err %v)", name, err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
