package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"spectra/internal/billing"
	"spectra/internal/ledger"
)

// creditKind is k, or paid when it is "".
func creditKind(k ledger.CreditKind) ledger.CreditKind {
	if k == "" {
		return ledger.CreditPaid
	}
	return k
}

// DisableCode marks an unredeemed code disabled at now: redeemed_at set with no
// redeeming workspace (see scanCode), by one guarded update, so that a concurrent
// redemption and the disabling cannot both win. A code disabled already is returned
// unchanged.
func (db *DB) DisableCode(ctx context.Context, codeID string, now time.Time) (_ billing.Code, err error) {
	defer wrapErr(&err, "disable code")
	var out billing.Code
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE billing_codes SET redeemed_at = ? WHERE id = ? AND redeemed_at IS NULL`),
			micros(now), codeID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE billing_code_batches SET disabled = disabled + 1
				WHERE batch_id = (SELECT batch_id FROM billing_codes WHERE id = ?)`), codeID); err != nil {
				return err
			}
		}
		c, err := scanCode(tx.QueryRowContext(ctx, db.q(`SELECT `+codeColumns+` WHERE id = ?`), codeID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return billing.ErrCodeNotFound
		case err != nil:
			return err
		case c.RedeemedAt != nil:
			return billing.ErrCodeRedeemed
		}
		out = c
		return nil
	})
	return out, err
}

// CodeBatches lists batches newest first (by creation, then batch id), after the batch
// f.Before (or batch f.BatchID alone), their codes counted by state at now: a page of
// the batches' rows (billing_code_batches, migration 0025, by its index on creation),
// whose counts the store keeps where codes are created, redeemed and disabled; a
// batch's unused codes are expired once its expiry has passed.
func (db *DB) CodeBatches(ctx context.Context, f billing.CodeBatchFilter, now time.Time) (_ []billing.CodeBatchSummary, err error) {
	defer wrapErr(&err, "code batches")
	q := `SELECT batch_id, amount, expires_at, note, created_at, codes, redeemed, disabled, credit_kind, credit_expires_at FROM billing_code_batches`
	var where []string
	var args []any
	if f.BatchID != "" {
		where, args = append(where, `batch_id = ?`), append(args, f.BatchID)
	}
	if f.Before != "" {
		where = append(where, `(created_at, batch_id) < (SELECT created_at, batch_id FROM billing_code_batches WHERE batch_id = ?)`)
		args = append(args, f.Before)
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY created_at DESC, batch_id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []billing.CodeBatchSummary{}
	n := micros(now)
	for rows.Next() {
		var b billing.CodeBatchSummary
		var expires, created int64
		var kind string
		var creditExp sql.NullInt64
		if err := rows.Scan(&b.BatchID, &b.Amount, &expires, &b.Note, &created, &b.Count, &b.Redeemed, &b.Disabled, &kind, &creditExp); err != nil {
			return nil, err
		}
		b.ExpiresAt, b.CreatedAt = fromMicros(expires), fromMicros(created)
		b.Kind, b.CreditExpiresAt = ledger.CreditKind(kind), nullMicros(creditExp)
		if expires <= n {
			b.Expired = b.Count - b.Redeemed - b.Disabled
		}
		b.Unused = b.Count - b.Redeemed - b.Disabled - b.Expired
		out = append(out, b)
	}
	return out, rows.Err()
}

// Codes lists codes by id after f.After (of batch f.BatchID when set), with the name of
// the workspace that redeemed each.
func (db *DB) Codes(ctx context.Context, f billing.CodeFilter) (_ []billing.Code, err error) {
	defer wrapErr(&err, "codes")
	q := `SELECT c.id, c.batch_id, c.hash, c.hint, c.amount, c.expires_at, c.note, c.created_at, c.redeemed_at, c.redeemed_by,
		c.credit_kind, c.credit_expires_at, COALESCE(w.name, '')
		FROM billing_codes c LEFT JOIN workspaces w ON w.id = c.redeemed_by WHERE c.id > ?`
	args := []any{f.After}
	if f.BatchID != "" {
		q += ` AND c.batch_id = ?`
		args = append(args, f.BatchID)
	}
	q += ` ORDER BY c.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []billing.Code{}
	for rows.Next() {
		var name string
		c, err := scanCode(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &name)...) }))
		if err != nil {
			return nil, err
		}
		c.RedeemedByName = name
		out = append(out, c)
	}
	return out, rows.Err()
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

// Scan calls f.
func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
