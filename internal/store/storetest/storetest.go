// Package storetest opens fresh, migrated Spectra databases for tests: SQLite always, and
// PostgreSQL when SPECTRA_TEST_POSTGRES_URL is set. With SPECTRA_REQUIRE_POSTGRES=1 a
// missing PostgreSQL fails the test instead of skipping it, so CI cannot pass by skipping.
package storetest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spectra/internal/ids"
	"spectra/internal/store"
)

// Options tune the opened database.
type Options struct {
	Now func() time.Time
}

// SQLite returns a fresh migrated SQLite database in a temporary directory.
func SQLite(t testing.TB, opts Options) *store.DB {
	t.Helper()
	return open(t, "sqlite:"+filepath.Join(t.TempDir(), "spectra.db"), opts)
}

// SQLiteAt opens (and migrates) the SQLite database at path, closed at the end of the
// test: tests open one file twice to play two processes, or a restart.
func SQLiteAt(t testing.TB, path string, opts Options) *store.DB {
	t.Helper()
	return open(t, "sqlite:"+path, opts)
}

// Postgres returns a fresh migrated PostgreSQL database in its own schema, dropped at
// the end of the test. It skips (or fails, see the package doc) without a server.
func Postgres(t testing.TB, opts Options) *store.DB {
	t.Helper()
	return open(t, PostgresDSN(t), opts)
}

// PostgresDSN returns a DSN for a fresh, empty schema of the test PostgreSQL server,
// dropped at the end of the test, for tests that open (or migrate) it themselves. It
// skips (or fails, see the package doc) without a server.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SPECTRA_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("SPECTRA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SPECTRA_REQUIRE_POSTGRES=1 but SPECTRA_TEST_POSTGRES_URL is not set")
		}
		t.Skip("PostgreSQL tests need SPECTRA_TEST_POSTGRES_URL")
	}
	schema := "t_" + ids.Random(10)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema (is PostgreSQL at SPECTRA_TEST_POSTGRES_URL running?): %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func open(t testing.TB, dsn string, opts Options) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, store.Options{Now: opts.Now, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Each runs fn as a subtest on SQLite and on PostgreSQL: one suite, two stores.
func Each(t *testing.T, opts Options, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts)) })
}
