package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"spectra/internal/billing"
	"spectra/internal/ledger"
)

var _ billing.Store = (*DB)(nil)

// RecordPayment posts a top-up and issues its receipt in one transaction. The receipt's
// source key is the transfer's id, so a replay finds it; a transfer posted earlier
// without a receipt (by ledger.Service.Credit) gets its receipt now.
func (db *DB) RecordPayment(ctx context.Context, p billing.PaymentRecord) (_ billing.Payment, _ bool, err error) {
	defer wrapErr(&err, "record payment")
	var out billing.Payment
	var created bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, created, err = db.recordPaymentTx(ctx, tx, p)
		return err
	})
	return out, created, err
}

func (db *DB) recordPaymentTx(ctx context.Context, tx *sql.Tx, p billing.PaymentRecord) (billing.Payment, bool, error) {
	if p.Transfer.Kind != ledger.KindPayment {
		return billing.Payment{}, false, errors.New("store: a payment is a transfer of kind payment")
	}
	t, created, err := db.transferTx(ctx, tx, p.Transfer)
	if err != nil {
		return billing.Payment{}, false, err
	}
	inv := p.Receipt
	inv.Kind, inv.WorkspaceID, inv.TransferID = billing.KindReceipt, t.WorkspaceID, t.ID
	inv.PaymentMethod = p.Method
	inv.SourceKey = "receipt:" + strconv.FormatInt(t.ID, 10)
	rec, _, err := db.issueTx(ctx, tx, inv)
	if err != nil {
		return billing.Payment{}, false, err
	}
	return billing.Payment{WorkspaceID: t.WorkspaceID, Amount: t.Amount, Currency: rec.Currency, Method: rec.PaymentMethod,
		Reference: rec.PaymentReference, TransferID: t.ID, ReceiptID: rec.ID, ReceiptNumber: rec.Number, CreatedAt: t.CreatedAt}, created, nil
}

// CreateCodes stores a batch of redemption codes.
func (db *DB) CreateCodes(ctx context.Context, codes []billing.Code) (err error) {
	defer wrapErr(&err, "create codes")
	return db.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(codes); start += 200 {
			chunk := codes[start:min(start+200, len(codes))]
			args := make([]any, 0, len(chunk)*10)
			for _, c := range chunk {
				args = append(args, c.ID, c.BatchID, c.Hash, c.Hint, int64(c.Amount), micros(c.ExpiresAt), c.Note, micros(c.CreatedAt),
					string(creditKind(c.CreditKind)), nullTime(c.CreditExpiresAt))
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_codes (id, batch_id, hash, hint, amount, expires_at, note, created_at, credit_kind, credit_expires_at) VALUES `+
				placeholders(len(chunk), 10)), args...); err != nil {
				return err
			}
		}
		// Each batch's row (migration 0025), its codes counted.
		counts := map[string]int64{}
		for _, c := range codes {
			counts[c.BatchID]++
		}
		for _, c := range codes {
			n, ok := counts[c.BatchID]
			if !ok {
				continue
			}
			delete(counts, c.BatchID)
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_code_batches (batch_id, amount, expires_at, note, created_at, codes, credit_kind, credit_expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO UPDATE SET codes = billing_code_batches.codes + excluded.codes`),
				c.BatchID, int64(c.Amount), micros(c.ExpiresAt), c.Note, micros(c.CreatedAt), n,
				string(creditKind(c.CreditKind)), nullTime(c.CreditExpiresAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

const codeColumns = `id, batch_id, hash, hint, amount, expires_at, note, created_at, redeemed_at, redeemed_by, credit_kind, credit_expires_at FROM billing_codes`

// scanCode reads a code. A disabled code is stored as redeemed (redeemed_at set) by no
// workspace (redeemed_by NULL): the redemption's guarded update, which matches only
// rows with no redeemed_at, then never matches it, and no migration was needed.
func scanCode(row scanner) (billing.Code, error) {
	var c billing.Code
	var expires, created int64
	var redeemed, creditExp sql.NullInt64
	var by sql.NullString
	var kind string
	err := row.Scan(&c.ID, &c.BatchID, &c.Hash, &c.Hint, &c.Amount, &expires, &c.Note, &created, &redeemed, &by, &kind, &creditExp)
	c.ExpiresAt, c.CreatedAt, c.RedeemedAt, c.RedeemedBy = fromMicros(expires), fromMicros(created), nullMicros(redeemed), by.String
	c.CreditKind, c.CreditExpiresAt = ledger.CreditKind(kind), nullMicros(creditExp)
	if c.RedeemedAt != nil && !by.Valid {
		c.DisabledAt, c.RedeemedAt = c.RedeemedAt, nil
	}
	return c, err
}

// CodeByHash finds a code by the hash of its text.
func (db *DB) CodeByHash(ctx context.Context, hash string) (_ billing.Code, err error) {
	defer wrapErr(&err, "code by hash")
	c, err := scanCode(db.read.QueryRowContext(ctx, db.q(`SELECT `+codeColumns+` WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return c, billing.ErrCodeNotFound
	}
	return c, err
}

// RedeemCode marks a code redeemed with one guarded update and records its payment in
// the same transaction: of concurrent attempts, exactly one matches the row.
func (db *DB) RedeemCode(ctx context.Context, codeID string, now time.Time, p billing.PaymentRecord) (_ billing.Payment, err error) {
	defer wrapErr(&err, "redeem code")
	var out billing.Payment
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE billing_codes SET redeemed_at = ?, redeemed_by = ?
			WHERE id = ? AND redeemed_at IS NULL AND expires_at > ?`), micros(now), p.Transfer.WorkspaceID, codeID, micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			c, err := scanCode(tx.QueryRowContext(ctx, db.q(`SELECT `+codeColumns+` WHERE id = ?`), codeID))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return billing.ErrCodeNotFound
			case err != nil:
				return err
			case c.DisabledAt != nil:
				return billing.ErrCodeDisabled
			case c.RedeemedAt != nil:
				return billing.ErrCodeRedeemed
			}
			return billing.ErrCodeExpired
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE billing_code_batches SET redeemed = redeemed + 1
			WHERE batch_id = (SELECT batch_id FROM billing_codes WHERE id = ?)`), codeID); err != nil {
			return err
		}
		out, _, err = db.recordPaymentTx(ctx, tx, p)
		return err
	})
	return out, err
}

// AddRedeemFailure records a failed redemption under each scope, and forgets the
// scopes' failures older than a day.
func (db *DB) AddRedeemFailure(ctx context.Context, scopes []string, at time.Time) (err error) {
	defer wrapErr(&err, "add redeem failure")
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, s := range scopes {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM billing_redeem_failures WHERE scope = ? AND at < ?`), s, micros(at.Add(-24*time.Hour))); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_redeem_failures (scope, at) VALUES (?, ?)`), s, micros(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// RedeemFailures counts a scope's failed redemptions at or after since.
func (db *DB) RedeemFailures(ctx context.Context, scope string, since time.Time) (_ int, err error) {
	defer wrapErr(&err, "redeem failures")
	var n int
	err = db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM billing_redeem_failures WHERE scope = ? AND at >= ?`), scope, micros(since)).Scan(&n)
	return n, err
}

// BillingDetails returns a workspace's buyer details, empty when none were saved.
func (db *DB) BillingDetails(ctx context.Context, workspaceID string) (_ billing.Party, err error) {
	defer wrapErr(&err, "billing details")
	var p billing.Party
	err = db.read.QueryRowContext(ctx, db.q(`SELECT name, email, line1, line2, city, postal_code, region, country, tax_id
		FROM billing_details WHERE workspace_id = ?`), workspaceID).
		Scan(&p.Name, &p.Email, &p.Line1, &p.Line2, &p.City, &p.PostalCode, &p.Region, &p.Country, &p.TaxID)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Party{}, nil
	}
	return p, err
}

// SetBillingDetails saves a workspace's buyer details.
func (db *DB) SetBillingDetails(ctx context.Context, workspaceID string, p billing.Party, at time.Time) (err error) {
	defer wrapErr(&err, "set billing details")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.workspaceExists(ctx, tx, workspaceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_details (workspace_id, name, email, line1, line2, city, postal_code, region, country, tax_id, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET name = excluded.name, email = excluded.email,
			line1 = excluded.line1, line2 = excluded.line2, city = excluded.city, postal_code = excluded.postal_code, region = excluded.region,
			country = excluded.country, tax_id = excluded.tax_id, updated_at = excluded.updated_at`),
			workspaceID, p.Name, p.Email, p.Line1, p.Line2, p.City, p.PostalCode, p.Region, p.Country, p.TaxID, micros(at))
		return err
	})
}

// workspaceExists returns workspace_not_found unless the workspace exists.
func (db *DB) workspaceExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM workspaces WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errWorkspaceNotFound
	}
	return err
}

// AddNotice stores a notice for a workspace's owners.
func (db *DB) AddNotice(ctx context.Context, n billing.Notice) (err error) {
	defer wrapErr(&err, "add notice")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.workspaceExists(ctx, tx, n.WorkspaceID); err != nil {
			return err
		}
		return db.addNoticeTx(ctx, tx, n)
	})
}

func (db *DB) addNoticeTx(ctx context.Context, tx *sql.Tx, n billing.Notice) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_notices (id, workspace_id, kind, message, created_at) VALUES (?, ?, ?, ?, ?)`),
		n.ID, n.WorkspaceID, n.Kind, n.Message, micros(n.CreatedAt))
	return err
}

// Notices returns a workspace's notices, newest first.
func (db *DB) Notices(ctx context.Context, workspaceID string, includeDismissed bool) (_ []billing.Notice, err error) {
	defer wrapErr(&err, "notices")
	query := `SELECT id, workspace_id, kind, message, created_at, dismissed_at FROM billing_notices WHERE workspace_id = ?`
	if !includeDismissed {
		query += ` AND dismissed_at IS NULL`
	}
	rows, err := db.read.QueryContext(ctx, db.q(query+` ORDER BY created_at DESC, id DESC LIMIT 100`), workspaceID)
	return collect(rows, err, scanNotice)
}

func scanNotice(row scanner) (billing.Notice, error) {
	var n billing.Notice
	var created int64
	var dismissed sql.NullInt64
	if err := row.Scan(&n.ID, &n.WorkspaceID, &n.Kind, &n.Message, &created, &dismissed); err != nil {
		return n, err
	}
	n.CreatedAt, n.DismissedAt = fromMicros(created), nullMicros(dismissed)
	return n, nil
}

// DismissNotice hides a notice; dismissing twice is not an error.
func (db *DB) DismissNotice(ctx context.Context, workspaceID, id string, at time.Time) (err error) {
	defer wrapErr(&err, "dismiss notice")
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM billing_notices WHERE id = ? AND workspace_id = ?`), id, workspaceID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return billing.ErrNoticeNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE billing_notices SET dismissed_at = ? WHERE id = ? AND dismissed_at IS NULL`), micros(at), id)
		return err
	})
}
