package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// Gateway leases (ledger.LeaseStore): holds with a node_id. See ledger/lease.go.

// leaseRoomSQL is the unused room of an account's leases, Σ (amount − published
// in-flight) over its active leases: held as the guard counts it, minus this, is held
// as shown. ACCOUNT is replaced by the SQL naming the account's id.
const leaseRoomSQL = `COALESCE((SELECT SUM(lh.amount - lh.inflight) FROM holds lh
	WHERE lh.account_id = ACCOUNT AND lh.status = 'held' AND lh.node_id IS NOT NULL AND lh.amount > lh.inflight), 0)`

// shownHeldSQL is an account's held amount as shown (every hold, each lease only up to
// its published in-flight); account names the account's id column, e.g. "a.id".
func shownHeldSQL(held, account string) string {
	return "(" + held + " - " + strings.Replace(leaseRoomSQL, "ACCOUNT", account, 1) + ")"
}

// walletRow is a wallet row read inside a write transaction, locked until commit.
type walletRow struct {
	balance, held, overdraft int64
}

// free is what the guard still lets holds take: balance − held + overdraft limit.
func (w walletRow) free() int64 { return w.balance - w.held + w.overdraft }

func (db *DB) lockWallet(ctx context.Context, tx *sql.Tx, account string) (walletRow, error) {
	q := `SELECT balance, held, overdraft_limit FROM accounts WHERE id = ?`
	if db.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	var w walletRow
	err := tx.QueryRowContext(ctx, db.q(q), account).Scan(&w.balance, &w.held, &w.overdraft)
	if errors.Is(err, sql.ErrNoRows) {
		return w, errWorkspaceNotFound
	}
	return w, err
}

// grant is the amount a lease of current amount old gets: l.Min, plus up to
// l.Want − l.Min as far as a share of what the guard would still allow beyond Min does
// (ledger.LeaseShare, among the wallet's leases): a lease stops growing as the wallet
// nears empty. room is the largest amount the guard allows (old + free).
func grant(l ledger.Lease, room, leases int64) money.Amount {
	extra := int64(l.Amount() - l.Min)
	left := room - int64(l.Min)
	if extra <= 0 || left <= 0 {
		return l.Min
	}
	return l.Min + money.Amount(min(extra, left/(ledger.LeaseShare*max(leases, 1))))
}

// countLeases counts the account's active leases.
func (db *DB) countLeases(ctx context.Context, tx *sql.Tx, account string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM holds WHERE account_id = ? AND status = 'held' AND node_id IS NOT NULL`), account).Scan(&n)
	return n, err
}

// A lease's reclaim state (holds.reclaim): 0 nobody asked, 1 another node asked for the
// room its node does not use, 2 its node answered (amount = its inflight then), until the
// node's next publication.

// refuse is the guard's answer to a lease that needs shortfall more than the guard
// allows. Other leases of the account may hold room their nodes do not use, and what the
// database knows of them always lags: costs settled since their node last published are
// still counted in them (given back at its next publication), and the in-flight a node
// published, even in answer to a reclaim, may have settled since. So every other lease
// counts whole. When they add up to the shortfall, each is flagged (again, if its node
// had answered an earlier reclaim: its answer may be stale) and the answer is
// ledger.ErrReclaimPending: their nodes shrink them to what they truly have in flight at
// their next publication, and the asking node retries, for a bounded time. Only when
// even all of them could not cover the shortfall is the answer ledger.ErrInsufficient
// at once: then no true available balance covers the request. The flags are written in
// tx, which must then commit (err is for the transaction).
func (db *DB) refuse(ctx context.Context, tx *sql.Tx, account, self string, shortfall int64) (refusal, err error) {
	var spare int64
	err = tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(amount), 0) FROM holds
		WHERE account_id = ? AND status = 'held' AND node_id IS NOT NULL AND id <> ? AND amount > 0`),
		account, self).Scan(&spare)
	if err != nil {
		return nil, err
	}
	if spare <= 0 || spare < shortfall {
		return ledger.ErrInsufficient, nil
	}
	if _, err = tx.ExecContext(ctx, db.q(`UPDATE holds SET reclaim = 1
		WHERE account_id = ? AND status = 'held' AND node_id IS NOT NULL AND id <> ? AND amount > 0 AND reclaim <> 1`),
		account, self); err != nil {
		return nil, err
	}
	return ledger.ErrReclaimPending, nil
}

func validLease(l ledger.Lease) error {
	if l.ID == "" || l.Min < 0 || l.Want < 0 || l.Inflight < 0 || l.ExpiresAt.IsZero() {
		return errs.E(errs.Invalid, "invalid_hold", "a lease needs an id, non-negative amounts and an expiry")
	}
	return nil
}

// ReserveLease creates a node's lease on a wallet with Reserve's guard (balance − held
// must stay at or above −overdraft limit after it, and be above it before), granting
// Min and as much of Want as the wallet's free balance allows (ledger.LeaseShare).
// Reserving an existing id again returns its amount.
func (db *DB) ReserveLease(ctx context.Context, l ledger.Lease) (_ money.Amount, err error) {
	defer wrapErr(&err, "reserve lease")
	if err := validLease(l); err != nil {
		return 0, err
	}
	if l.WorkspaceID == "" || l.Node == "" {
		return 0, errs.E(errs.Invalid, "invalid_hold", "a lease needs a workspace and a node")
	}
	account := string(ledger.Wallet(l.WorkspaceID))
	var amount money.Amount
	var refused error
	err = db.tx(ctx, func(tx *sql.Tx) error {
		refused = nil
		w, err := db.lockWallet(ctx, tx, account)
		if err != nil {
			return err
		}
		var existing int64
		err = tx.QueryRowContext(ctx, db.q(`SELECT amount FROM holds WHERE id = ?`), l.ID).Scan(&existing)
		if err == nil {
			amount = money.Amount(existing)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if free := w.free(); free <= 0 || int64(l.Min) > free {
			refused, err = db.refuse(ctx, tx, account, l.ID, max(int64(l.Min)-free, 1))
			return err
		}
		n, err := db.countLeases(ctx, tx, account)
		if err != nil {
			return err
		}
		amount = grant(l, w.free(), n+1)
		res, err := tx.ExecContext(ctx, db.q(`UPDATE accounts SET held = held + ?
			WHERE id = ? AND balance - held - ? >= -overdraft_limit AND balance - held > -overdraft_limit`), int64(amount), account, int64(amount))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRetry // the row moved under a stale read: read it again
		}
		now := micros(db.now())
		res, err = tx.ExecContext(ctx, db.q(`INSERT INTO holds (id, account_id, amount, status, created_at, expires_at, node_id, inflight)
			VALUES (?, ?, ?, 'held', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
			l.ID, account, int64(amount), now, micros(l.ExpiresAt), l.Node, int64(l.Inflight))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRetry
		}
		return nil
	})
	if err == nil && refused != nil {
		return 0, refused
	}
	return amount, err
}

// ResizeLease sets an active lease's amount to Min plus as much of Want as the free
// balance allows, its expiry and its published in-flight, in one transaction; the
// wallet's held amount moves by the difference, guarded (balance − held ≥ −overdraft
// limit afterwards) when the amount is above l.Covered or the current amount.
func (db *DB) ResizeLease(ctx context.Context, l ledger.Lease) (_ money.Amount, err error) {
	defer wrapErr(&err, "resize lease")
	if err := validLease(l); err != nil {
		return 0, err
	}
	var amount money.Amount
	var refused error
	err = db.tx(ctx, func(tx *sql.Tx) error {
		refused = nil
		var account string
		err := tx.QueryRowContext(ctx, db.q(`SELECT account_id FROM holds WHERE id = ? AND status = 'held'`), l.ID).Scan(&account)
		if errors.Is(err, sql.ErrNoRows) {
			return ledger.ErrHoldNotFound
		}
		if err != nil {
			return err
		}
		w, err := db.lockWallet(ctx, tx, account)
		if err != nil {
			return err
		}
		var old int64
		err = tx.QueryRowContext(ctx, db.q(`SELECT amount FROM holds WHERE id = ? AND status = 'held'`), l.ID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return ledger.ErrHoldNotFound
		}
		if err != nil {
			return err
		}
		// Up to threshold the node's own room covers the lease; above it the guard
		// decides, and allows up to room.
		threshold := min(old, int64(l.Covered))
		room := old + w.free()
		if limit := max(room, threshold); int64(l.Min) > limit {
			refused, err = db.refuse(ctx, tx, account, l.ID, int64(l.Min)-limit)
			return err
		}
		amount = l.Min
		if l.Want > l.Min {
			n, err := db.countLeases(ctx, tx, account)
			if err != nil {
				return err
			}
			amount = grant(l, room, n)
		}
		return db.setLease(ctx, tx, account, l, old, amount, int64(amount) > threshold)
	})
	if err == nil && refused != nil {
		return 0, refused
	}
	return amount, err
}

// setLease writes a lease's new amount (compare-and-set on old), expiry and published
// in-flight and its reclaim state (answered when l.Reclaimed; otherwise an answered
// lease is back to none: costs may settle against it again), and moves the wallet's
// held amount by the difference (guarded when asked).
func (db *DB) setLease(ctx context.Context, tx *sql.Tx, account string, l ledger.Lease, old int64, amount money.Amount, guarded bool) error {
	query := `UPDATE holds SET amount = ?, expires_at = ?, inflight = ?, reclaim = CASE WHEN reclaim = 2 THEN 0 ELSE reclaim END
		WHERE id = ? AND status = 'held' AND amount = ?`
	if l.Reclaimed {
		query = `UPDATE holds SET amount = ?, expires_at = ?, inflight = ?, reclaim = 2 WHERE id = ? AND status = 'held' AND amount = ?`
	}
	res, err := tx.ExecContext(ctx, db.q(query), int64(amount), micros(l.ExpiresAt), int64(l.Inflight), l.ID, old)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errRetry // closed or resized concurrently: look again
	}
	delta := int64(amount) - old
	if delta == 0 && !guarded {
		return nil
	}
	query = `UPDATE accounts SET held = held + ? WHERE id = ?`
	args := []any{delta, account}
	if guarded {
		query += ` AND balance - held - ? >= -overdraft_limit`
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
}

// PublishLeases applies changes that need no guard (each lease's amount becomes its
// Min, at most its Covered and its current amount) in one transaction: the node
// publishing its in-flight, forgetting costs already charged, giving back room it no
// longer needs, or answering a reclaim. None gives the node new room.
func (db *DB) PublishLeases(ctx context.Context, ls []ledger.Lease) (_ []error, err error) {
	defer wrapErr(&err, "publish leases")
	for _, l := range ls {
		if err := validLease(l); err != nil {
			return nil, err
		}
	}
	out := make([]error, len(ls))
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// Wallets first, in id order, then their leases: the order every lease change
		// (and ingestion) takes its locks in, so that two never wait on each other.
		accounts := make([]string, len(ls))
		for i, l := range ls {
			out[i] = nil
			err := tx.QueryRowContext(ctx, db.q(`SELECT account_id FROM holds WHERE id = ? AND status = 'held'`), l.ID).Scan(&accounts[i])
			if errors.Is(err, sql.ErrNoRows) {
				out[i] = ledger.ErrHoldNotFound
				continue
			}
			if err != nil {
				return err
			}
		}
		if db.dialect == Postgres {
			locked := map[string]bool{}
			order := slices.Sorted(slices.Values(accounts))
			for _, a := range order {
				if a == "" || locked[a] {
					continue
				}
				locked[a] = true
				if _, err := db.lockWallet(ctx, tx, a); err != nil {
					return err
				}
			}
		}
		for i, l := range ls {
			if out[i] != nil {
				continue
			}
			account := accounts[i]
			var old int64
			err := tx.QueryRowContext(ctx, db.q(`SELECT amount FROM holds WHERE id = ? AND status = 'held'`), l.ID).Scan(&old)
			if errors.Is(err, sql.ErrNoRows) {
				out[i] = ledger.ErrHoldNotFound
				continue
			}
			if err != nil {
				return err
			}
			if int64(l.Min) > min(old, int64(l.Covered)) {
				out[i] = ledger.ErrInsufficient // it would need the guard
				continue
			}
			if err := db.setLease(ctx, tx, account, l, old, l.Min, false); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// LeaseReclaims returns the ids of node's active leases flagged for reclaim.
func (db *DB) LeaseReclaims(ctx context.Context, node string) (_ []string, err error) {
	defer wrapErr(&err, "lease reclaims")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id FROM holds WHERE node_id = ? AND status = 'held' AND reclaim = 1`), node)
	return collect(rows, err, scanString)
}

// ReleaseNodeLeases releases every active lease of node: at a node's start, those its
// previous run left behind (a crash, a kill). Nothing is charged.
func (db *DB) ReleaseNodeLeases(ctx context.Context, node string) (_ int, err error) {
	defer wrapErr(&err, "release node leases")
	if node == "" {
		return 0, errs.E(errs.Invalid, "invalid_node", "a node id is required")
	}
	n := 0
	err = db.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM holds WHERE node_id = ? AND status = 'held'`), node)
		ids, err := collect(rows, err, scanString)
		if err != nil {
			return err
		}
		for _, id := range ids {
			ok, err := db.closeHold(ctx, tx, id, "released", db.now())
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}
