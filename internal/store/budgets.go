package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"spectra/internal/budget"
	"spectra/internal/money"
)

const budgetColumns = `id, workspace_id, name, scope, scope_id, amount, period, thresholds, hard_limit, created_at, updated_at FROM budgets`

func scanBudget(row scanner) (budget.Budget, error) {
	var b budget.Budget
	var thresholds string
	var hard int
	var created, updated int64
	if err := row.Scan(&b.ID, &b.WorkspaceID, &b.Name, &b.Scope, &b.ScopeID, &b.Amount, &b.Period, &thresholds, &hard, &created, &updated); err != nil {
		return b, err
	}
	b.Thresholds = []int{}
	for _, f := range strings.Split(thresholds, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			b.Thresholds = append(b.Thresholds, n)
		}
	}
	b.HardLimit = hard == 1
	b.CreatedAt, b.UpdatedAt = fromMicros(created), fromMicros(updated)
	return b, nil
}

func joinThresholds(t []int) string {
	s := make([]string, len(t))
	for i, v := range t {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// CreateBudget stores a new budget.
func (db *DB) CreateBudget(ctx context.Context, b budget.Budget) (err error) {
	defer wrapErr(&err, "create budget")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO budgets (id, workspace_id, name, scope, scope_id, amount, period, thresholds, hard_limit, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), b.ID, b.WorkspaceID, b.Name, string(b.Scope), b.ScopeID, int64(b.Amount),
			string(b.Period), joinThresholds(b.Thresholds), boolInt(b.HardLimit), micros(b.CreatedAt), micros(b.UpdatedAt))
		return err
	})
}

// Budget returns one budget of a workspace, or budget.ErrNotFound.
func (db *DB) Budget(ctx context.Context, workspaceID, id string) (_ budget.Budget, err error) {
	defer wrapErr(&err, "budget")
	b, err := scanBudget(db.read.QueryRowContext(ctx, db.q(`SELECT `+budgetColumns+` WHERE workspace_id = ? AND id = ?`), workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, budget.ErrNotFound
	}
	return b, err
}

// Budgets returns a workspace's budgets, oldest first.
func (db *DB) Budgets(ctx context.Context, workspaceID string) (_ []budget.Budget, err error) {
	defer wrapErr(&err, "budgets")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+budgetColumns+` WHERE workspace_id = ? ORDER BY created_at, id`), workspaceID)
	return collect(rows, err, scanBudget)
}

// UpdateBudget replaces a budget's mutable fields.
func (db *DB) UpdateBudget(ctx context.Context, b budget.Budget) (err error) {
	defer wrapErr(&err, "update budget")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE budgets SET name = ?, amount = ?, period = ?, thresholds = ?, hard_limit = ?, updated_at = ?
			WHERE workspace_id = ? AND id = ?`), b.Name, int64(b.Amount), string(b.Period), joinThresholds(b.Thresholds),
			boolInt(b.HardLimit), micros(b.UpdatedAt), b.WorkspaceID, b.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return budget.ErrNotFound
		}
		return nil
	})
}

// DeleteBudget removes a budget.
func (db *DB) DeleteBudget(ctx context.Context, workspaceID, id string) (err error) {
	defer wrapErr(&err, "delete budget")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM budgets WHERE workspace_id = ? AND id = ?`), workspaceID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return budget.ErrNotFound
		}
		return nil
	})
}

// WatchedWorkspaces returns the workspaces with a budget or a low-balance line, sorted.
func (db *DB) WatchedWorkspaces(ctx context.Context) (_ []string, err error) {
	defer wrapErr(&err, "watched workspaces")
	rows, err := db.read.QueryContext(ctx, `SELECT workspace_id FROM budgets UNION SELECT workspace_id FROM low_balance_state WHERE line > 0 ORDER BY 1`)
	return collect(rows, err, scanString)
}

// InsertAlert stores a unless its dedupe key is taken, and reports whether it did.
func (db *DB) InsertAlert(ctx context.Context, a budget.Alert) (_ bool, err error) {
	defer wrapErr(&err, "insert alert")
	var stored bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = db.insertAlert(ctx, tx, a)
		return err
	})
	return stored, err
}

func (db *DB) insertAlert(ctx context.Context, tx *sql.Tx, a budget.Alert) (bool, error) {
	var budgetID sql.NullString
	if a.BudgetID != "" {
		budgetID = sql.NullString{String: a.BudgetID, Valid: true}
	}
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO alerts (id, workspace_id, kind, budget_id, threshold, period_start, dedupe_key, subject, body, payload, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`),
		a.ID, a.WorkspaceID, a.Kind, budgetID, a.Threshold, micros(a.PeriodStart), a.DedupeKey, a.Subject, a.Body, string(a.Payload), micros(a.CreatedAt))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// WorkspaceAlerts returns a workspace's alerts, newest first.
func (db *DB) WorkspaceAlerts(ctx context.Context, workspaceID string, limit int) (_ []budget.Alert, err error) {
	defer wrapErr(&err, "workspace alerts")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, workspace_id, kind, budget_id, threshold, period_start, dedupe_key, subject, body, payload, created_at, dispatched_at
		FROM alerts WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`), workspaceID, limit)
	return collect(rows, err, scanAlert)
}

func scanAlert(row scanner) (budget.Alert, error) {
	var a budget.Alert
	var budgetID sql.NullString
	var payload string
	var start, created int64
	var dispatched sql.NullInt64
	if err := row.Scan(&a.ID, &a.WorkspaceID, &a.Kind, &budgetID, &a.Threshold, &start, &a.DedupeKey, &a.Subject, &a.Body,
		&payload, &created, &dispatched); err != nil {
		return a, err
	}
	a.BudgetID, a.Payload = budgetID.String, []byte(payload)
	a.PeriodStart, a.CreatedAt, a.DispatchedAt = fromMicros(start), fromMicros(created), nullMicros(dispatched)
	return a, nil
}

// LowBalance returns a workspace's low-balance state; unset is off and armed.
func (db *DB) LowBalance(ctx context.Context, workspaceID string) (_ budget.LowBalance, err error) {
	defer wrapErr(&err, "low balance")
	l := budget.LowBalance{WorkspaceID: workspaceID, Armed: true}
	var armed int
	err = db.read.QueryRowContext(ctx, db.q(`SELECT line, armed, crossings FROM low_balance_state WHERE workspace_id = ?`), workspaceID).
		Scan(&l.Line, &armed, &l.Crossings)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	l.Armed = armed == 1
	return l, err
}

// SetLowBalanceLine sets a workspace's line and re-arms it, keeping its crossing count.
func (db *DB) SetLowBalanceLine(ctx context.Context, workspaceID string, line money.Amount, now time.Time) (err error) {
	defer wrapErr(&err, "set low balance line")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO low_balance_state (workspace_id, line, armed, crossings, updated_at) VALUES (?, ?, 1, 0, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET line = excluded.line, armed = 1, updated_at = excluded.updated_at`),
			workspaceID, int64(line), micros(now))
		return err
	})
}

// CrossLowBalance disarms an armed, set line (counting the crossing) and stores the
// crossing's alert, in one transaction.
func (db *DB) CrossLowBalance(ctx context.Context, workspaceID string, now time.Time, build func(crossing int64) budget.Alert) (_ bool, err error) {
	defer wrapErr(&err, "cross low balance")
	var crossed bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		crossed = false
		var n int64
		err := tx.QueryRowContext(ctx, db.q(`UPDATE low_balance_state SET armed = 0, crossings = crossings + 1, updated_at = ?
			WHERE workspace_id = ? AND armed = 1 AND line > 0 RETURNING crossings`), micros(now), workspaceID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := db.insertAlert(ctx, tx, build(n)); err != nil {
			return err
		}
		crossed = true
		return nil
	})
	return crossed, err
}

// RearmLowBalance arms a disarmed line.
func (db *DB) RearmLowBalance(ctx context.Context, workspaceID string, now time.Time) (err error) {
	defer wrapErr(&err, "rearm low balance")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE low_balance_state SET armed = 1, updated_at = ? WHERE workspace_id = ? AND armed = 0`), micros(now), workspaceID)
		return err
	})
}

var _ budget.Store = (*DB)(nil)
