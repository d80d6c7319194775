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

// SetSweepSizes sets when a sweep of recent event keys starts (recent holds at least
// minKeys) and how many keys each of its transactions inserts, until restore is called.
func SetSweepSizes(minKeys, sliceKeys int) (restore func()) {
	oldMin, oldMax, oldSlice := sweepSizes.min.Load(), sweepSizes.max.Load(), sweepSizes.slice.Load()
	sweepSizes.min.Store(int64(minKeys))
	sweepSizes.max.Store(max(int64(minKeys), oldMax))
	sweepSizes.slice.Store(int64(sliceKeys))
	return func() { sweepSizes.min.Store(oldMin); sweepSizes.max.Store(oldMax); sweepSizes.slice.Store(oldSlice) }
}

// PauseSweeps stops background sweeps of recent event keys until restore is called.
func PauseSweeps() (restore func()) {
	sweepSizes.paused.Store(true)
	return func() { sweepSizes.paused.Store(false) }
}

// SweepEventKeysOnce runs one slice of a sweep of recent event keys (SQLite).
func (db *DB) SweepEventKeysOnce(ctx context.Context) error { return db.requestSweep(ctx, false) }

// RawInt runs a query (with "?" placeholders) that returns one integer.
func (db *DB) RawInt(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.write.QueryRowContext(ctx, db.q(query), args...).Scan(&n)
	return n, err
}
