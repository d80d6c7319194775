package store

import (
	"context"
	"database/sql"
)

// RawQueryRow runs one query (with "?" placeholders) on the read pool, for tests.
func (db *DB) RawQueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, db.q(query), args...)
}
