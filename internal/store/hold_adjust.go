package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// AdjustHold sets an active hold's amount and expiry in one transaction, with a guarded
// update of the wallet's held amount: when guarded (and always when the hold grows), the
// change only succeeds if the wallet's available balance after it (balance − held) is at
// or above −overdraft limit. An unguarded decrease always succeeds. (The gateway's
// leases have their own methods, with the same guard: leases.go.)
// Errors: ledger.ErrInsufficient, ledger.ErrHoldNotFound (not active: settled, released
// or expired), errs.Invalid.
func (db *DB) AdjustHold(ctx context.Context, holdID string, amount money.Amount, expiresAt time.Time, guarded bool) (err error) {
	defer wrapErr(&err, "adjust hold")
	if holdID == "" || amount < 0 || expiresAt.IsZero() {
		return errs.E(errs.Invalid, "invalid_hold", "a hold needs an id, a non-negative amount and an expiry")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		var account string
		var old int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT account_id, amount FROM holds WHERE id = ? AND status = 'held'`), holdID).Scan(&account, &old)
		if errors.Is(err, sql.ErrNoRows) {
			return ledger.ErrHoldNotFound
		}
		if err != nil {
			return err
		}
		// Compare-and-set on the hold row: it stays locked until commit, so a concurrent
		// release or settle waits and then sees the new amount.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE holds SET amount = ?, expires_at = ? WHERE id = ? AND status = 'held' AND amount = ?`),
			int64(amount), micros(expiresAt), holdID, old)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRetry // closed or resized concurrently: look again
		}
		delta := int64(amount) - old
		query := `UPDATE accounts SET held = held + ? WHERE id = ?`
		args := []any{delta, account}
		if guarded || delta > 0 {
			query = `UPDATE accounts SET held = held + ? WHERE id = ? AND balance - held - ? >= -overdraft_limit`
			args = append(args, delta)
		}
		res, err = tx.ExecContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ledger.ErrInsufficient
		}
		return nil
	})
}
