package store

import "context"

// RawExec runs one statement (with "?" placeholders) on the write pool: tests use it to
// tamper with a database the way only a bug or a hand-edit could.
func (db *DB) RawExec(ctx context.Context, query string, args ...any) (int64, error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var before int64
	if db.dialect == SQLite {
		if err := conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
			return 0, err
		}
	}
	res, err := conn.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 && db.dialect == SQLite {
		// An UPDATE of the events view rewrites blocks through an INSTEAD OF trigger,
		// which SQLite's RowsAffected does not count; total_changes does.
		var after int64
		err = conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&after)
		n = after - before
	}
	return n, err
}

// SetEventKey makes ApplyEvents key events with f until the returned function is called:
// tests force 64-bit key collisions with it.
func SetEventKey(f func(ws, id string) int64) (restore func()) {
	old := keyOf
	keyOf = f
	return func() { keyOf = old }
}

// EventKey is the key ApplyEvents gives (ws, id) by default.
func EventKey(ws, id string) int64 { return idKey(ws, id) }

// MigrateBefore applies the migrations below version, as an older binary would have.
func (db *DB) MigrateBefore(ctx context.Context, version int) error {
	ms, err := db.Migrations()
	if err != nil {
		return err
	}
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		if _, err := db.write.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := db.write.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`), m.Version, m.Name); err != nil {
			return err
		}
	}
	return nil
}
