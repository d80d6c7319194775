package store

import (
	"context"
	"fmt"
)

// lotsAfter is the first transfer id that credit lots cover: transfers up to the one
// migration 0027 recorded have no lots or draws.
const lotsAfter = `COALESCE((SELECT MAX(CAST(value AS BIGINT)) FROM settings WHERE name = 'credit_lots_after_transfer'), 0)`

// verifyLots checks the credit lots against the ledger (credit_lots.go): each lot's use,
// expiry and remaining add up to its amount and to its draws; each wallet's lots less its
// uncovered debt are its balance, and it has no debt while a lot is open; each debit of a
// wallet since credit lots is drawn (or uncovered) for its amount; each credit created its
// lot.
func (db *DB) verifyLots(ctx context.Context) ([]Check, error) {
	checks := []sqlCheck{
		{
			name:  "each credit lot's use, expiry and remaining add up to its amount",
			count: `SELECT COUNT(*) FROM credit_lots`,
			problems: `SELECT id, amount, used, expired, remaining FROM credit_lots
				WHERE used + expired + remaining <> amount OR used < 0 OR expired < 0 OR remaining < 0`,
			cols: 5,
			describe: func(v []any) string {
				return fmt.Sprintf("lot %v of %v: used %v + expired %v + remaining %v", v[0], v[1], v[2], v[3], v[4])
			},
		},
		{
			name:  "each credit lot's use and expiry are its draws",
			count: `SELECT COUNT(*) FROM credit_lots`,
			problems: `SELECT l.id, l.used, l.expired,
					COALESCE(SUM(CASE WHEN t.kind = 'expiry' THEN 0 ELSE d.amount END), 0),
					COALESCE(SUM(CASE WHEN t.kind = 'expiry' THEN d.amount ELSE 0 END), 0)
				FROM credit_lots l LEFT JOIN lot_draws d ON d.lot_id = l.id LEFT JOIN transfers t ON t.id = d.transfer_id
				GROUP BY l.id, l.used, l.expired
				HAVING l.used <> COALESCE(SUM(CASE WHEN t.kind = 'expiry' THEN 0 ELSE d.amount END), 0)
				OR l.expired <> COALESCE(SUM(CASE WHEN t.kind = 'expiry' THEN d.amount ELSE 0 END), 0)`,
			cols: 5,
			describe: func(v []any) string {
				return fmt.Sprintf("lot %v: used %v and expired %v, but its draws say %v and %v", v[0], v[1], v[2], v[3], v[4])
			},
		},
		{
			name:  "each wallet's lots less its uncovered debt equal its balance",
			count: `SELECT COUNT(*) FROM accounts WHERE kind = 'wallet'`,
			problems: `SELECT a.id, a.balance, x.remaining, x.debt FROM accounts a, (SELECT a2.id AS id,
					COALESCE((SELECT SUM(remaining) FROM credit_lots l WHERE l.workspace_id = a2.workspace_id), 0) AS remaining,
					COALESCE((SELECT SUM(amount) FROM lot_draws d WHERE d.workspace_id = a2.workspace_id AND d.lot_id IS NULL), 0) AS debt
				FROM accounts a2 WHERE a2.kind = 'wallet') x
				WHERE x.id = a.id AND (a.balance <> x.remaining - x.debt OR (x.remaining > 0 AND x.debt > 0))`,
			cols: 4,
			describe: func(v []any) string {
				return fmt.Sprintf("%v: balance %v, but its lots hold %v and its uncovered debt is %v", v[0], v[1], v[2], v[3])
			},
		},
		{
			name:  "each debit of a wallet is drawn on lots or uncovered for its amount",
			count: `SELECT COUNT(*) FROM transfers WHERE from_account LIKE 'wallet:%' AND id > ` + lotsAfter,
			problems: `SELECT t.id, t.kind, t.amount, COALESCE(SUM(d.amount), 0), COALESCE(SUM(CASE WHEN d.lot_id IS NULL THEN d.amount ELSE 0 END), 0)
				FROM transfers t LEFT JOIN lot_draws d ON d.transfer_id = t.id
				WHERE t.from_account LIKE 'wallet:%' AND t.id > ` + lotsAfter + `
				GROUP BY t.id, t.kind, t.amount HAVING COALESCE(SUM(d.amount), 0) <> t.amount`,
			cols: 5,
			describe: func(v []any) string {
				return fmt.Sprintf("%v transfer %v of %v: draws sum to %v (uncovered %v)", v[1], v[0], v[2], v[3], v[4])
			},
		},
		{
			name:  "each credit of a wallet created one lot of its amount",
			count: `SELECT COUNT(*) FROM transfers WHERE to_account LIKE 'wallet:%' AND id > ` + lotsAfter,
			problems: `SELECT t.id, t.kind, t.amount FROM transfers t
				WHERE t.to_account LIKE 'wallet:%' AND t.id > ` + lotsAfter + `
				AND NOT EXISTS (SELECT 1 FROM credit_lots l WHERE l.transfer_id = t.id AND l.amount = t.amount
					AND l.workspace_id = t.workspace_id)`,
			cols: 3,
			describe: func(v []any) string {
				return fmt.Sprintf("%v transfer %v of %v has no lot of its amount", v[1], v[0], v[2])
			},
		},
	}
	return db.runChecks(ctx, checks)
}

// addLotChecks appends the credit-lot checks to rep (Verify's hook).
func (db *DB) addLotChecks(ctx context.Context, rep *VerifyReport) error {
	lots, err := db.verifyLots(ctx)
	if err != nil {
		return fmt.Errorf("credit lots: %w", err)
	}
	rep.Checks = append(rep.Checks, lots...)
	return nil
}
