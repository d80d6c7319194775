package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"spectra/internal/ledger"
)

//go:embed migrations
var migrations embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations for the dialect, in order.
func (db *DB) Migrations() (_ []Migration, err error) {
	defer wrapErr(&err, "migrations")
	dir := "migrations/" + string(db.dialect)
	files, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, f := range files {
		name := f.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := migrations.ReadFile(dir + "/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// afterMigration holds Go steps run in a migration's transaction, after its SQL, by
// version. A migration that needs Go (a backfill computed in Go) registers its step here.
var afterMigration = map[int]func(db *DB, ctx context.Context, tx *sql.Tx) error{
	6: (*DB).backfillDaily, // rollups_daily.go
}

// Migrate applies every migration not yet applied, each in its own transaction, and
// creates the system accounts. It returns the names applied now. On PostgreSQL an
// advisory lock keeps nodes that start together from migrating twice.
func (db *DB) Migrate(ctx context.Context) (_ []string, err error) {
	defer wrapErr(&err, "migrate")
	ms, err := db.Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if db.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7242353)`); err != nil {
			return nil, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7242353)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err := eachRow(rows, err, func(row scanner) error {
		var v int
		if err := row.Scan(&v); err != nil {
			return err
		}
		applied[v] = true
		return nil
	}); err != nil {
		return nil, err
	}
	var done []string
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return done, err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return done, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if step := afterMigration[m.Version]; step != nil {
			if err := step(db, ctx, tx); err != nil {
				tx.Rollback()
				return done, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.Version, m.Name, micros(db.now())); err != nil {
			tx.Rollback()
			return done, err
		}
		if err := tx.Commit(); err != nil {
			return done, err
		}
		done = append(done, m.Name)
	}
	for _, a := range ledger.SystemAccounts {
		if _, err := conn.ExecContext(ctx, db.q(`INSERT INTO accounts (id, kind, created_at) VALUES (?, 'system', ?) ON CONFLICT (id) DO NOTHING`), string(a), micros(db.now())); err != nil {
			return done, err
		}
	}
	return done, nil
}
