package store

import "context"

// RawExec runs one statement (with "?" placeholders) on the write pool: tests use it to
// tamper with a database the way only a bug or a hand-edit could.
func (db *DB) RawExec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := db.write.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
