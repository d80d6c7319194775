package store

import (
	"context"

	"spectra/internal/money"
)

// SetOverdraftLimit sets workspace id's wallet's overdraft limit (team.OverdraftStore).
// Errors: errs.NotFound workspace_not_found.
func (db *DB) SetOverdraftLimit(ctx context.Context, id string, limit money.Amount) (err error) {
	defer wrapErr(&err, "set overdraft limit")
	n, err := db.write.ExecContext(ctx, db.q(`UPDATE accounts SET overdraft_limit = ? WHERE id = ? AND kind = 'wallet'`), int64(limit), "wallet:"+id)
	if err != nil {
		return err
	}
	if c, err := n.RowsAffected(); err == nil && c == 0 {
		return errWorkspaceNotFound
	}
	return nil
}
