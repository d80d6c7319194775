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

// Transfer posts r exactly once by its idempotency key.
//
// The transfer row is inserted first (ON CONFLICT DO NOTHING), so a concurrent request
// with the same key waits on the unique index and then finds the first one's transfer.
// A guarded debit is one conditional UPDATE; when it matches no row the whole
// transaction rolls back.
func (db *DB) Transfer(ctx context.Context, r ledger.TransferRequest) (_ ledger.Transfer, _ bool, err error) {
	defer wrapErr(&err, "transfer")
	if err := r.Validate(); err != nil {
		return ledger.Transfer{}, false, err
	}
	var t ledger.Transfer
	var created bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		t, created, err = db.transferTx(ctx, tx, r)
		return err
	})
	return t, created, err
}

// transferTx is Transfer inside the caller's transaction tx, so that other writes (a
// redeemed code, a receipt) commit or roll back with the money they move.
func (db *DB) transferTx(ctx context.Context, tx *sql.Tx, r ledger.TransferRequest) (ledger.Transfer, bool, error) {
	if err := r.Validate(); err != nil {
		return ledger.Transfer{}, false, err
	}
	now := db.now()
	if err := db.accountsExist(ctx, tx, r.From, r.To); err != nil {
		return ledger.Transfer{}, false, err
	}
	row := transferRow{key: r.Key, kind: r.Kind, from: r.From, to: r.To, amount: r.Amount, ws: r.WorkspaceID, note: r.Note, now: now,
		credit: r.CreditKind, expiresAt: r.ExpiresAt, firstFrom: r.FirstFrom}
	id, posted, err := db.postTransfer(ctx, tx, row, func() (fromAfter, toAfter sql.NullInt64, err error) {
		if fromAfter, err = db.move(ctx, tx, r.From, -r.Amount, r.Guarded); err != nil {
			return fromAfter, toAfter, err
		}
		toAfter, err = db.move(ctx, tx, r.To, r.Amount, false)
		return fromAfter, toAfter, err
	})
	if err != nil {
		return ledger.Transfer{}, false, err
	}
	if !posted {
		t, err := transferByKey(ctx, db, tx, r.Key)
		if err != nil {
			return ledger.Transfer{}, false, err
		}
		if !r.Same(t) {
			return ledger.Transfer{}, false, ledger.ErrConflict
		}
		if r.CreatesLot() {
			same, err := db.sameLot(ctx, tx, t.ID, r)
			if err != nil {
				return ledger.Transfer{}, false, err
			}
			if !same {
				return ledger.Transfer{}, false, ledger.ErrConflict
			}
		}
		return t, false, nil
	}
	return ledger.Transfer{ID: id, IdempotencyKey: r.Key, Kind: r.Kind, From: r.From, To: r.To, Amount: r.Amount,
		WorkspaceID: r.WorkspaceID, Note: r.Note, CreatedAt: fromMicros(micros(now))}, true, nil
}

// accountsExist returns a not-found error naming the first account that does not exist.
func (db *DB) accountsExist(ctx context.Context, tx *sql.Tx, ids ...ledger.AccountID) error {
	for _, a := range ids {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM accounts WHERE id = ?`), string(a)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			if ledger.WorkspaceOf(a) != "" {
				return errWorkspaceNotFound
			}
			return errs.E(errs.NotFound, "account_not_found", "no account %q", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// move moves account's cached balance by amount when it is a wallet, and returns the
// balance after (NULL for an account without a cached balance). A guarded debit only
// succeeds while available − amount ≥ −overdraft limit.
func (db *DB) move(ctx context.Context, tx *sql.Tx, account ledger.AccountID, amount money.Amount, guarded bool) (sql.NullInt64, error) {
	var after sql.NullInt64
	if ledger.WorkspaceOf(account) != "" {
		query := `UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance`
		args := []any{int64(amount), string(account)}
		if guarded {
			query = `UPDATE accounts SET balance = balance + ? WHERE id = ? AND balance - held + ? >= -overdraft_limit RETURNING balance`
			args = append(args, int64(amount))
		}
		err := tx.QueryRowContext(ctx, db.q(query), args...).Scan(&after)
		if errors.Is(err, sql.ErrNoRows) {
			if guarded {
				if _, err := db.walletBalance(ctx, tx, ledger.WorkspaceOf(account)); err != nil {
					return after, err
				}
				return after, ledger.ErrInsufficient
			}
			return after, errWorkspaceNotFound
		}
		if err != nil {
			return after, err
		}
	}
	return after, nil
}

func transferByKey(ctx context.Context, db *DB, tx *sql.Tx, key string) (ledger.Transfer, error) {
	var t ledger.Transfer
	var kind, from, to string
	var created int64
	var ws sql.NullString
	err := tx.QueryRowContext(ctx, db.q(`SELECT id, idempotency_key, kind, from_account, to_account, amount, workspace_id, note, created_at FROM transfers WHERE idempotency_key = ?`), key).
		Scan(&t.ID, &t.IdempotencyKey, &kind, &from, &to, &t.Amount, &ws, &t.Note, &created)
	t.Kind, t.From, t.To, t.WorkspaceID, t.CreatedAt = ledger.Kind(kind), ledger.AccountID(from), ledger.AccountID(to), ws.String, fromMicros(created)
	return t, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) walletBalance(ctx context.Context, q querier, workspaceID string) (ledger.Balance, error) {
	b := ledger.Balance{WorkspaceID: workspaceID}
	// Held as shown: every hold, each gateway lease only up to the in-flight estimates
	// its node published (leases.go), so that it is what requests in flight may cost.
	err := q.QueryRowContext(ctx, db.q(`SELECT a.balance, `+shownHeldSQL("a.held", "a.id")+`, a.overdraft_limit FROM accounts a WHERE a.id = ?`), string(ledger.Wallet(workspaceID))).
		Scan(&b.Balance, &b.Held, &b.OverdraftLimit)
	if errors.Is(err, sql.ErrNoRows) {
		return b, errWorkspaceNotFound
	}
	b.Available = b.Balance - b.Held
	return b, err
}

// Balance returns a workspace's wallet.
func (db *DB) Balance(ctx context.Context, workspaceID string) (_ ledger.Balance, err error) {
	defer wrapErr(&err, "balance")
	b, err := db.walletBalance(ctx, db.read, workspaceID)
	if err != nil {
		return b, err
	}
	return b, db.creditSplit(ctx, db.read, &b)
}

// Entries returns a wallet's entries newest first.
func (db *DB) Entries(ctx context.Context, workspaceID string, before int64, limit int) (_ []ledger.Entry, err error) {
	defer wrapErr(&err, "entries")
	if limit <= 0 {
		limit = 50
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT e.id, t.id, t.kind, e.amount, e.balance_after, t.note, t.created_at
		FROM entries e JOIN transfers t ON t.id = e.transfer_id
		WHERE e.account_id = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`), string(ledger.Wallet(workspaceID)), before, limit)
	return collect(rows, err, scanEntry)
}

// scanEntry scans an entry row of Entries.
func scanEntry(row scanner) (ledger.Entry, error) {
	var e ledger.Entry
	var kind string
	var created int64
	err := row.Scan(&e.Cursor, &e.TransferID, &kind, &e.Amount, &e.BalanceAfter, &e.Note, &created)
	e.Kind, e.CreatedAt = ledger.Kind(kind), fromMicros(created)
	return e, err
}

// Reserve places a hold with one guarded update of the wallet's held amount.
func (db *DB) Reserve(ctx context.Context, h ledger.Hold) (_ ledger.Hold, err error) {
	defer wrapErr(&err, "reserve")
	if h.ID == "" || h.Amount < 0 || h.ExpiresAt.IsZero() {
		return h, errs.E(errs.Invalid, "invalid_hold", "a hold needs an id, a non-negative amount and an expiry")
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var account string
		var created, expires int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT account_id, amount, created_at, expires_at FROM holds WHERE id = ?`), h.ID).Scan(&account, &h.Amount, &created, &expires)
		if err == nil { // the same hold again: nothing changes
			h.WorkspaceID, h.CreatedAt, h.ExpiresAt = ledger.WorkspaceOf(ledger.AccountID(account)), fromMicros(created), fromMicros(expires)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE accounts SET held = held + ?
			WHERE id = ? AND balance - held - ? >= -overdraft_limit AND balance - held > -overdraft_limit`),
			int64(h.Amount), string(ledger.Wallet(h.WorkspaceID)), int64(h.Amount))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := db.walletBalance(ctx, tx, h.WorkspaceID); err != nil {
				return err
			}
			return ledger.ErrInsufficient
		}
		now := db.now()
		h.CreatedAt = fromMicros(micros(now))
		res, err = tx.ExecContext(ctx, db.q(`INSERT INTO holds (id, account_id, amount, status, created_at, expires_at) VALUES (?, ?, ?, 'held', ?, ?) ON CONFLICT (id) DO NOTHING`),
			h.ID, string(ledger.Wallet(h.WorkspaceID)), int64(h.Amount), micros(now), micros(h.ExpiresAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRetry // a concurrent Reserve of the same id won; run again to return its hold
		}
		return nil
	})
	return h, err
}

// Release drops an active hold without charging.
func (db *DB) Release(ctx context.Context, holdID string) (err error) {
	defer wrapErr(&err, "release")
	return db.tx(ctx, func(tx *sql.Tx) error {
		ok, err := db.closeHold(ctx, tx, holdID, "released", db.now())
		if err == nil && !ok {
			return ledger.ErrHoldNotFound
		}
		return err
	})
}

// closeHold ends an active hold with status and gives its amount back to the wallet.
// It reports false when the hold is not active (already closed or unknown).
func (db *DB) closeHold(ctx context.Context, tx *sql.Tx, holdID, status string, now time.Time) (bool, error) {
	var account string
	var amount int64
	if db.dialect == Postgres {
		// The wallet first, then the hold: the order lease changes take their locks in
		// (leases.go), so that a release and a reclaim never wait on each other.
		err := tx.QueryRowContext(ctx, db.q(`SELECT account_id FROM holds WHERE id = ? AND status = 'held'`), holdID).Scan(&account)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if _, err := db.lockWallet(ctx, tx, account); err != nil {
			return false, err
		}
	}
	err := tx.QueryRowContext(ctx, db.q(`UPDATE holds SET status = ?, closed_at = ? WHERE id = ? AND status = 'held' RETURNING account_id, amount`),
		status, micros(now), holdID).Scan(&account, &amount)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, db.q(`UPDATE accounts SET held = held - ? WHERE id = ?`), amount, account)
	return err == nil, err
}

// ReleaseExpired releases every hold whose expiry is before now. A crash never turns a
// hold into a charge: an expired hold is only ever released.
func (db *DB) ReleaseExpired(ctx context.Context, now time.Time) (_ int, err error) {
	defer wrapErr(&err, "release expired holds")
	total := 0
	for {
		rows, err := db.read.QueryContext(ctx, db.q(`SELECT id FROM holds WHERE status = 'held' AND expires_at < ? ORDER BY expires_at LIMIT 500`), micros(now))
		ids, err := collect(rows, err, scanString)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		n := 0
		err = db.tx(ctx, func(tx *sql.Tx) error {
			n = 0
			for _, id := range ids {
				ok, err := db.closeHold(ctx, tx, id, "expired", now)
				if err != nil {
					return err
				}
				if ok {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if len(ids) < 500 {
			return total, nil
		}
	}
}
