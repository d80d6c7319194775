package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

// Credit lots (migration 0027). Every transfer into a wallet creates a lot; every debit
// of a wallet draws on its open lots in the same transaction, in spend order:
// promotional before paid, then earliest expiry first (never-expiring last), then oldest
// (id). Each draw is a row of lot_draws (transfer, lot, amount); what no lot covers is a
// row without a lot, the wallet's uncovered debt, and the next lot repays it first (the
// row then names that lot, or is split). postTransfer applies both, so every way money
// moves (Transfer, ingestion's postUsage, ExpireLots) keeps, for every wallet:
//
//	Σ lots' remaining − Σ uncovered draws = balance
//
// The wallet's row is locked (updated) before its lots are read, so concurrent debits
// and credits of one wallet apply their draws one after the other. A lot past its expiry
// that ExpireLots has not reached yet is still drawn on: its credit is in the balance
// until the expiry transfer takes it out.

// lotsConfig is the store's credit-lot setting.
type lotsConfig struct {
	paidExpiry atomic.Int64 // nanoseconds; 0: paid credit never expires by default
}

// SetPaidCreditExpiry sets how long paid credit lasts when the transfer that adds it
// sets no expiry (SPECTRA_PAID_CREDIT_EXPIRY); 0, the default, keeps it forever.
func (db *DB) SetPaidCreditExpiry(d time.Duration) { db.lots.paidExpiry.Store(int64(max(d, 0))) }

// The spend order of a wallet's open lots. kind DESC: 'promotional' before 'paid'.
const lotSpendOrder = `kind DESC, (expires_at IS NULL), expires_at, id`

const (
	qOpenLots = `SELECT id, remaining FROM credit_lots WHERE workspace_id = ? AND remaining > 0 ORDER BY ` + lotSpendOrder + ` LIMIT 8`
	qUseLot   = `UPDATE credit_lots SET remaining = remaining - ?, used = used + ? WHERE id = ? AND remaining >= ?`
	qExpLot   = `UPDATE credit_lots SET remaining = remaining - ?, expired = expired + ? WHERE id = ? AND remaining >= ?`
	qDraw     = `INSERT INTO lot_draws (workspace_id, transfer_id, lot_id, amount, created_at) VALUES (?, ?, ?, ?, ?)`
	qDebts    = `SELECT id, transfer_id, amount, created_at FROM lot_draws WHERE workspace_id = ? AND lot_id IS NULL ORDER BY id`
	qNewLot   = `INSERT INTO credit_lots (workspace_id, kind, source, transfer_id, amount, remaining, used, expired, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`
	lotColumns = `id, workspace_id, kind, source, transfer_id, amount, remaining, used, expired, expires_at, created_at`
)

// applyLots keeps the lots of the wallets transfer id (t) moved money of: a debit of a
// wallet draws on its lots, a credit creates one. fromAfter and toAfter are the wallets'
// balances after the transfer.
//
// Since Σ remaining − debt = balance and a wallet never has both an open lot and a debt,
// a wallet whose balance before was at most zero has no open lot (a debit need not look
// for one: it is all uncovered), and one whose balance before was at least zero has no
// debt (a new lot need not look for one to repay).
func (db *DB) applyLots(ctx context.Context, tx *sql.Tx, id int64, t transferRow, fromAfter, toAfter sql.NullInt64) error {
	if ws := ledger.WorkspaceOf(t.from); ws != "" {
		noLots := fromAfter.Valid && fromAfter.Int64+int64(t.amount) <= 0 && t.lot == 0
		if err := db.drawLots(ctx, tx, ws, id, t, noLots); err != nil {
			return err
		}
	}
	if ws := ledger.WorkspaceOf(t.to); ws != "" {
		noDebt := toAfter.Valid && toAfter.Int64-int64(t.amount) >= 0
		if _, err := db.createLot(ctx, tx, ws, id, t, noDebt); err != nil {
			return err
		}
	}
	return nil
}

// drawLots draws t's amount on the wallet's open lots in spend order, and records what
// they do not cover as uncovered. An expiry (t.lot set) draws on its own lot only, into
// the lot's expired amount. noLots: the wallet has no open lot.
func (db *DB) drawLots(ctx context.Context, tx *sql.Tx, ws string, id int64, t transferRow, noLots bool) error {
	left := int64(t.amount)
	now := micros(t.now)
	if t.lot != 0 {
		res, err := db.ingestExec(ctx, tx, qExpLot, left, left, t.lot, left)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("store: an expiry drew more than its lot's remaining")
		}
		_, err = db.ingestExec(ctx, tx, qDraw, ws, id, t.lot, left, now)
		return err
	}
	type open struct{ id, remaining int64 }
	scanOpen := func(r scanner) (open, error) {
		var o open
		return o, r.Scan(&o.id, &o.remaining)
	}
	first := t.firstFrom != 0
	for left > 0 && !noLots {
		var rows *sql.Rows
		var err error
		if first { // the lot of the transfer a refund returns, when it is this wallet's and open
			rows, err = tx.QueryContext(ctx, db.q(`SELECT id, remaining FROM credit_lots WHERE transfer_id = ? AND workspace_id = ? AND remaining > 0`), t.firstFrom, ws)
		} else {
			rows, err = db.ingestQuery(ctx, tx, qOpenLots, ws)
		}
		lots, err := collect(rows, err, scanOpen)
		if err != nil {
			return err
		}
		for _, l := range lots {
			x := min(l.remaining, left)
			if _, err := db.ingestExec(ctx, tx, qUseLot, x, x, l.id, x); err != nil {
				return err
			}
			if _, err := db.ingestExec(ctx, tx, qDraw, ws, id, l.id, x, now); err != nil {
				return err
			}
			if left -= x; left == 0 {
				return nil
			}
		}
		if first {
			first = false
			continue
		}
		if len(lots) < 8 {
			break
		}
	}
	_, err := db.ingestExec(ctx, tx, qDraw, ws, id, nil, left, now)
	return err
}

// createLot creates the lot of credit transfer id into ws's wallet; the lot first repays
// the wallet's uncovered debt, oldest first. It returns the lot's id. noDebt: the wallet
// has no uncovered debt.
func (db *DB) createLot(ctx context.Context, tx *sql.Tx, ws string, id int64, t transferRow, noDebt bool) (int64, error) {
	kind := t.credit
	if kind == "" {
		kind = ledger.CreditPaid
	}
	var expires sql.NullInt64
	if !t.expiresAt.IsZero() {
		expires = sql.NullInt64{Int64: micros(t.expiresAt), Valid: true}
	} else if d := time.Duration(db.lots.paidExpiry.Load()); d > 0 && kind == ledger.CreditPaid {
		expires = sql.NullInt64{Int64: micros(t.now) + d.Microseconds(), Valid: true}
	}
	type debt struct {
		id       int64
		transfer sql.NullInt64
		amount   int64
		created  int64
	}
	var debts []debt
	if !noDebt {
		rows, err := db.ingestQuery(ctx, tx, qDebts, ws)
		if debts, err = collect(rows, err, func(r scanner) (debt, error) {
			var d debt
			return d, r.Scan(&d.id, &d.transfer, &d.amount, &d.created)
		}); err != nil {
			return 0, err
		}
	}
	amount := int64(t.amount)
	repaid := int64(0)
	for _, d := range debts {
		repaid += min(d.amount, amount-repaid)
		if repaid == amount {
			break
		}
	}
	var lot int64
	if err := db.ingestQueryRow(ctx, tx, qNewLot, ws, string(kind), string(t.kind), id, amount, amount-repaid, repaid, expires, micros(t.now)).Scan(&lot); err != nil {
		return 0, err
	}
	left := repaid
	for _, d := range debts {
		if left == 0 {
			break
		}
		x := min(d.amount, left)
		left -= x
		var err error
		if x == d.amount { // the whole uncovered draw is now a draw on the lot
			_, err = tx.ExecContext(ctx, db.q(`UPDATE lot_draws SET lot_id = ? WHERE id = ?`), lot, d.id)
		} else {
			if _, err = tx.ExecContext(ctx, db.q(`UPDATE lot_draws SET amount = amount - ? WHERE id = ?`), x, d.id); err == nil {
				_, err = tx.ExecContext(ctx, db.q(qDraw), ws, d.transfer, lot, x, d.created)
			}
		}
		if err != nil {
			return 0, err
		}
	}
	return lot, nil
}

// sameLot reports whether the lot transfer id created is what r asks for (a replay): the
// same kind, and the same expiry (none asked: none, or the paid-credit default).
func (db *DB) sameLot(ctx context.Context, tx *sql.Tx, id int64, r ledger.TransferRequest) (bool, error) {
	var kind string
	var expires sql.NullInt64
	var created int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT kind, expires_at, created_at FROM credit_lots WHERE transfer_id = ?`), id).Scan(&kind, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) { // a transfer from before credit lots
		return r.CreditKind == "" && r.ExpiresAt.IsZero(), nil
	}
	if err != nil {
		return false, err
	}
	want := r.CreditKind
	if want == "" {
		want = ledger.CreditPaid
	}
	if string(want) != kind {
		return false, nil
	}
	if !r.ExpiresAt.IsZero() {
		return expires.Valid && expires.Int64 == micros(r.ExpiresAt), nil
	}
	if !expires.Valid {
		return true, nil
	}
	d := time.Duration(db.lots.paidExpiry.Load())
	return want == ledger.CreditPaid && d > 0 && expires.Int64 == created+d.Microseconds(), nil
}

func scanLot(row scanner) (ledger.Lot, error) {
	var l ledger.Lot
	var kind, source string
	var transfer, expires sql.NullInt64
	var created int64
	err := row.Scan(&l.ID, &l.WorkspaceID, &kind, &source, &transfer, &l.Amount, &l.Remaining, &l.Used, &l.Expired, &expires, &created)
	l.Kind, l.Source, l.TransferID, l.ExpiresAt, l.CreatedAt = ledger.CreditKind(kind), ledger.Kind(source), transfer.Int64, nullMicros(expires), fromMicros(created)
	return l, err
}

// spendBefore orders open lots as they are spent.
func spendBefore(a, b ledger.Lot) int {
	if a.Kind != b.Kind {
		if a.Kind == ledger.CreditPromotional {
			return -1
		}
		return 1
	}
	switch {
	case a.ExpiresAt == nil && b.ExpiresAt != nil:
		return 1
	case a.ExpiresAt != nil && b.ExpiresAt == nil:
		return -1
	case a.ExpiresAt != nil && !a.ExpiresAt.Equal(*b.ExpiresAt):
		return a.ExpiresAt.Compare(*b.ExpiresAt)
	}
	return cmp.Compare(a.ID, b.ID)
}

// Lots returns a wallet's credit lots: the open ones in spend order, then the spent or
// expired ones, newest first.
func (db *DB) Lots(ctx context.Context, workspaceID string) (_ []ledger.Lot, err error) {
	defer wrapErr(&err, "lots")
	if _, err := db.walletBalance(ctx, db.read, workspaceID); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+lotColumns+` FROM credit_lots WHERE workspace_id = ? ORDER BY id DESC`), workspaceID)
	lots, err := collect(rows, err, scanLot)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(lots, func(a, b ledger.Lot) int {
		switch {
		case a.Open() && b.Open():
			return spendBefore(a, b)
		case a.Open():
			return -1
		case b.Open():
			return 1
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return lots, nil
}

// ExpireLots posts, for each lot due by now with credit left, one expiry transfer of its
// remaining from its wallet to ledger.Expired, under the key ledger.LotKey(id), in one
// transaction with the lot's remaining turned expired. The wallet is locked first and the
// lot read under that lock, so of several nodes running this at once one expires the lot
// and the others find nothing left (and the key would refuse a second transfer anyway).
func (db *DB) ExpireLots(ctx context.Context, now time.Time) (_ []ledger.Transfer, err error) {
	defer wrapErr(&err, "expire lots")
	out := []ledger.Transfer{}
	after := int64(0)
	for {
		type due struct {
			id int64
			ws string
		}
		rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, workspace_id FROM credit_lots
			WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ? AND id > ? ORDER BY id LIMIT 200`), micros(now), after)
		lots, err := collect(rows, err, func(r scanner) (due, error) {
			var d due
			return d, r.Scan(&d.id, &d.ws)
		})
		if err != nil {
			return out, err
		}
		for _, l := range lots {
			after = l.id
			var t ledger.Transfer
			var posted bool
			err := db.tx(ctx, func(tx *sql.Tx) error {
				posted = false
				wallet := ledger.Wallet(l.ws)
				if _, err := db.lockWallet(ctx, tx, string(wallet)); err != nil {
					return err
				}
				var remaining int64
				if err := tx.QueryRowContext(ctx, db.q(`SELECT remaining FROM credit_lots WHERE id = ?`), l.id).Scan(&remaining); err != nil || remaining == 0 {
					return err
				}
				at := db.now()
				row := transferRow{key: ledger.LotKey(l.id), kind: ledger.KindExpiry, from: wallet, to: ledger.Expired,
					amount: money.Amount(remaining), ws: l.ws, note: "Credit expired", now: at, lot: l.id}
				id, ok, err := db.postTransfer(ctx, tx, row, func() (fromAfter, toAfter sql.NullInt64, err error) {
					fromAfter, err = db.move(ctx, tx, wallet, -money.Amount(remaining), false)
					return fromAfter, toAfter, err
				})
				if err != nil || !ok {
					return err
				}
				posted = true
				t = ledger.Transfer{ID: id, IdempotencyKey: row.key, Kind: row.kind, From: row.from, To: row.to, Amount: row.amount,
					WorkspaceID: l.ws, Note: row.note, CreatedAt: fromMicros(micros(at))}
				return nil
			})
			if err != nil {
				return out, err
			}
			if posted {
				out = append(out, t)
			}
		}
		if len(lots) < 200 {
			return out, nil
		}
	}
}

// LotsExpiringBetween returns every wallet's open lots whose expiry is in [from, to), by
// expiry.
func (db *DB) LotsExpiringBetween(ctx context.Context, from, to time.Time) (_ []ledger.Lot, err error) {
	defer wrapErr(&err, "lots expiring")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+lotColumns+` FROM credit_lots
		WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at >= ? AND expires_at < ? ORDER BY expires_at, id`), micros(from), micros(to))
	return collect(rows, err, scanLot)
}

// UsageByCredit splits the usage transfers a wallet was charged in [from, to) by the kind
// of the lots they drew on; uncovered is what no lot has covered yet. Usage from before
// credit lots (migration 0027) drew on no lot and counts as paid.
func (db *DB) UsageByCredit(ctx context.Context, workspaceID string, from, to time.Time) (paid, promotional, uncovered money.Amount, err error) {
	defer wrapErr(&err, "usage by credit")
	if _, err := db.walletBalance(ctx, db.read, workspaceID); err != nil {
		return 0, 0, 0, err
	}
	err = db.read.QueryRowContext(ctx, db.q(`SELECT
			COALESCE(SUM(CASE WHEN l.kind = 'paid' THEN d.amount ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN l.kind = 'promotional' THEN d.amount ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN d.lot_id IS NULL THEN d.amount ELSE 0 END), 0)
		FROM lot_draws d JOIN transfers t ON t.id = d.transfer_id LEFT JOIN credit_lots l ON l.id = d.lot_id
		WHERE d.workspace_id = ? AND d.created_at >= ? AND d.created_at < ? AND t.kind = 'usage'`),
		workspaceID, micros(from), micros(to)).Scan(&paid, &promotional, &uncovered)
	if err != nil {
		return 0, 0, 0, err
	}
	var before money.Amount
	var cutoff int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(CAST(value AS BIGINT)), 0) FROM settings WHERE name = 'credit_lots_after_transfer'`).Scan(&cutoff); err != nil {
		return 0, 0, 0, err
	}
	if cutoff > 0 {
		err = db.read.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(t.amount), 0) FROM entries e JOIN transfers t ON t.id = e.transfer_id
			WHERE e.account_id = ? AND t.id <= ? AND t.kind = 'usage' AND t.created_at >= ? AND t.created_at < ?`),
			string(ledger.Wallet(workspaceID)), cutoff, micros(from), micros(to)).Scan(&before)
	}
	return paid + before, promotional, uncovered, err
}

// creditSplit fills b's Paid, Promotional and ExpiringWithin30Days from the wallet's
// unexpired open lots.
func (db *DB) creditSplit(ctx context.Context, q querier, b *ledger.Balance) error {
	now := micros(db.now())
	soon := now + (30 * 24 * time.Hour).Microseconds()
	return q.QueryRowContext(ctx, db.q(`SELECT
			COALESCE(SUM(CASE WHEN kind = 'paid' THEN remaining ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN kind = 'promotional' THEN remaining ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN expires_at IS NOT NULL AND expires_at <= ? THEN remaining ELSE 0 END), 0)
		FROM credit_lots WHERE workspace_id = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?)`),
		soon, b.WorkspaceID, now).Scan(&b.Paid, &b.Promotional, &b.ExpiringWithin30Days)
}
