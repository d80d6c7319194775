package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

// The store's one way to post a transfer: postTransfer. Transfer (ledger.go) posts one
// request with it; ingestion (postUsage) posts each wallet's usage with it. On SQLite its
// two statements are prepared with the ingest path's (prepareIngest).
const (
	qInsertTransfer = `INSERT INTO transfers (idempotency_key, kind, from_account, to_account, amount, workspace_id, note, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`
	qInsertEntries = `INSERT INTO entries (transfer_id, account_id, amount, balance_after, created_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)`
)

// transferRow is a transfer to post: amount moves from one account to another.
type transferRow struct {
	key      string
	kind     ledger.Kind
	from, to ledger.AccountID
	amount   money.Amount
	ws, note string
	now      time.Time
	// The credit lot a transfer into a wallet creates (credit_lots.go): its kind ("" is
	// paid) and expiry (zero: none, or the paid-credit default).
	credit    ledger.CreditKind
	expiresAt time.Time
	// lot is the one lot an expiry draws on; 0: a debit draws in spend order, first on
	// the lot of transfer firstFrom when that is set (a refund of a payment).
	lot       int64
	firstFrom int64
}

// postTransfer posts t exactly once by its key, in tx. The transfer row is inserted
// first (ON CONFLICT DO NOTHING), so a concurrent post of the same key waits on the
// unique index; when the key was there, postTransfer returns false and moves nothing.
// Otherwise move moves the accounts' balances and returns each one's balance after (NULL
// for an account without one), and both entries are written: −amount on from, +amount on
// to. Then the wallets' credit lots follow (applyLots): a debit of a wallet draws on its
// lots, a credit creates one. An error of move rolls the transfer back with the transaction.
func (db *DB) postTransfer(ctx context.Context, tx *sql.Tx, t transferRow,
	move func() (fromAfter, toAfter sql.NullInt64, err error)) (int64, bool, error) {
	var id int64
	err := db.ingestQueryRow(ctx, tx, qInsertTransfer, t.key, string(t.kind), string(t.from), string(t.to), int64(t.amount),
		t.ws, t.note, micros(t.now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	fromAfter, toAfter, err := move()
	if err != nil {
		return 0, false, err
	}
	_, err = db.ingestExec(ctx, tx, qInsertEntries, id, string(t.from), -int64(t.amount), fromAfter, micros(t.now),
		id, string(t.to), int64(t.amount), toAfter, micros(t.now))
	if err == nil {
		err = db.applyLots(ctx, tx, id, t, fromAfter, toAfter)
	}
	return id, err == nil, err
}
