package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"spectra/internal/billing"
	"spectra/internal/ledger"
	"spectra/internal/money"
)

// AutoRecharge returns a workspace's auto-recharge row, or a disabled, armed one when none.
func (db *DB) AutoRecharge(ctx context.Context, workspaceID string) (_ billing.AutoRecharge, err error) {
	defer wrapErr(&err, "auto recharge")
	ar := billing.AutoRecharge{WorkspaceID: workspaceID, Armed: true}
	var enabled, armed int
	var updated, paused int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT enabled, threshold, amount, monthly_cap, armed, stripe_customer, stripe_payment_method,
		disabled_reason, paused_until, updated_at FROM billing_auto_recharge WHERE workspace_id = ?`), workspaceID).
		Scan(&enabled, &ar.Threshold, &ar.Amount, &ar.MonthlyCap, &armed, &ar.StripeCustomer, &ar.StripePaymentMethod, &ar.DisabledReason, &paused, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return ar, nil
	}
	if err != nil {
		return ar, err
	}
	t := fromMicros(updated)
	ar.Enabled, ar.Armed, ar.UpdatedAt = enabled == 1, armed == 1, &t
	ar.PaymentMethodSaved = ar.StripeCustomer != "" && ar.StripePaymentMethod != ""
	if paused > 0 {
		p := fromMicros(paused)
		ar.PausedUntil = &p
	}
	return ar, nil
}

// SetAutoRecharge saves a workspace's settings. Saving arms auto-recharge again and
// clears the reason Spectra turned it off and any pause.
func (db *DB) SetAutoRecharge(ctx context.Context, workspaceID string, s billing.AutoRechargeSettings, at time.Time) (_ billing.AutoRecharge, err error) {
	defer wrapErr(&err, "set auto recharge")
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.workspaceExists(ctx, tx, workspaceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_auto_recharge (workspace_id, enabled, threshold, amount, monthly_cap, armed, disabled_reason, updated_at)
			VALUES (?, ?, ?, ?, ?, 1, '', ?) ON CONFLICT (workspace_id) DO UPDATE SET enabled = excluded.enabled, threshold = excluded.threshold,
			amount = excluded.amount, monthly_cap = excluded.monthly_cap, armed = 1, disabled_reason = '', paused_until = 0,
			updated_at = excluded.updated_at`),
			workspaceID, boolInt(s.Enabled), int64(s.Threshold), int64(s.Amount), int64(s.MonthlyCap), micros(at))
		return err
	})
	if err != nil {
		return billing.AutoRecharge{}, err
	}
	return db.AutoRecharge(ctx, workspaceID)
}

// SetStripeCustomer saves a workspace's Stripe customer; another customer than the saved
// one forgets the saved card (it belongs to the old customer).
func (db *DB) SetStripeCustomer(ctx context.Context, workspaceID, customerID string, at time.Time) (err error) {
	defer wrapErr(&err, "set stripe customer")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.workspaceExists(ctx, tx, workspaceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_auto_recharge (workspace_id, stripe_customer, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET
			stripe_payment_method = CASE WHEN billing_auto_recharge.stripe_customer = excluded.stripe_customer THEN billing_auto_recharge.stripe_payment_method ELSE '' END,
			stripe_customer = excluded.stripe_customer, updated_at = excluded.updated_at`), workspaceID, customerID, micros(at))
		return err
	})
}

// SetPaymentMethod saves the customer and card auto-recharge charges.
func (db *DB) SetPaymentMethod(ctx context.Context, workspaceID, customerID, paymentMethodID string, at time.Time) (err error) {
	defer wrapErr(&err, "set payment method")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.workspaceExists(ctx, tx, workspaceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO billing_auto_recharge (workspace_id, stripe_customer, stripe_payment_method, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET stripe_customer = excluded.stripe_customer,
			stripe_payment_method = excluded.stripe_payment_method, updated_at = excluded.updated_at`), workspaceID, customerID, paymentMethodID, micros(at))
		return err
	})
}

// AutoRechargeState reads settings and the wallet's available balance in one query.
func (db *DB) AutoRechargeState(ctx context.Context, workspaceID string) (_ billing.AutoRechargeState, _ bool, err error) {
	defer wrapErr(&err, "auto recharge state")
	var st billing.AutoRechargeState
	var enabled, armed int
	var paused int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT r.enabled, r.armed, r.threshold, a.balance - `+shownHeldSQL("a.held", "a.id")+`, w.timezone, r.paused_until
		FROM billing_auto_recharge r JOIN accounts a ON a.id = ? JOIN workspaces w ON w.id = r.workspace_id
		WHERE r.workspace_id = ?`), string(ledger.Wallet(workspaceID)), workspaceID).
		Scan(&enabled, &armed, &st.Threshold, &st.Available, &st.Timezone, &paused)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	st.Enabled, st.Armed = enabled == 1, armed == 1
	if paused > 0 {
		st.PausedUntil = fromMicros(paused)
	}
	return st, err == nil, err
}

// availableSQL is the available balance of the wallet named by the query's next "?"
// (held as shown: gateway leases only up to their in-flight estimates, leases.go).
var availableSQL = `(SELECT balance - ` + shownHeldSQL("held", "accounts.id") + ` FROM accounts WHERE id = ?)`

// Rearm arms auto-recharge again when the available balance is back at the threshold.
func (db *DB) Rearm(ctx context.Context, workspaceID string, at time.Time) (_ bool, err error) {
	defer wrapErr(&err, "rearm")
	var n int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE billing_auto_recharge SET armed = 1, updated_at = ?
			WHERE workspace_id = ? AND armed = 0 AND enabled = 1 AND threshold <= `+availableSQL),
			micros(at), workspaceID, string(ledger.Wallet(workspaceID)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// StartAutoCharge disarms and records a charge, once per crossing (see billing.Store).
func (db *DB) StartAutoCharge(ctx context.Context, r billing.AutoChargeStart) (_ billing.AutoCharge, _ billing.StartOutcome, err error) {
	defer wrapErr(&err, "start auto charge")
	var ch billing.AutoCharge
	var outcome billing.StartOutcome
	err = db.tx(ctx, func(tx *sql.Tx) error {
		ch, outcome = billing.AutoCharge{ID: r.ChargeID, WorkspaceID: r.WorkspaceID, Status: "pending", CreatedAt: fromMicros(micros(r.Now))}, billing.NotArmed
		var monthlyCap int64
		err := tx.QueryRowContext(ctx, db.q(`UPDATE billing_auto_recharge SET armed = 0, crossing = crossing + 1, updated_at = ?
			WHERE workspace_id = ? AND armed = 1 AND enabled = 1 AND paused_until <= ? AND stripe_payment_method <> ''
			AND threshold > `+availableSQL+`
			RETURNING crossing, amount, monthly_cap, stripe_customer, stripe_payment_method`),
			micros(r.Now), r.WorkspaceID, micros(r.Now), string(ledger.Wallet(r.WorkspaceID))).
			Scan(&ch.Crossing, &ch.Amount, &monthlyCap, &ch.Customer, &ch.PaymentMethodID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		charged, err := autoChargedSince(ctx, db, tx, r.WorkspaceID, r.MonthStart)
		if err != nil {
			return err
		}
		if monthlyCap > 0 && int64(charged)+int64(ch.Amount) > monthlyCap {
			outcome = billing.CapReached
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE billing_auto_recharge SET armed = 1, paused_until = ? WHERE workspace_id = ?`),
				micros(r.MonthEnd), r.WorkspaceID); err != nil {
				return err
			}
			return db.addNoticeTx(ctx, tx, r.CapNotice)
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO billing_auto_charges (id, workspace_id, crossing, amount, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?)`), ch.ID, r.WorkspaceID, ch.Crossing, int64(ch.Amount), micros(r.Now), micros(r.Now))
		if err == nil {
			outcome = billing.Started
		}
		return err
	})
	return ch, outcome, err
}

func autoChargedSince(ctx context.Context, db *DB, q querier, workspaceID string, since time.Time) (money.Amount, error) {
	var sum int64
	err := q.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(amount), 0) FROM billing_auto_charges
		WHERE workspace_id = ? AND status <> 'failed' AND created_at >= ?`), workspaceID, micros(since)).Scan(&sum)
	return money.Amount(sum), err
}

// AutoChargedSince sums a workspace's pending and succeeded charges since a time.
func (db *DB) AutoChargedSince(ctx context.Context, workspaceID string, since time.Time) (_ money.Amount, err error) {
	defer wrapErr(&err, "auto charged since")
	return autoChargedSince(ctx, db, db.read, workspaceID, since)
}

// SetAutoChargeIntent links a charge to its PaymentIntent.
func (db *DB) SetAutoChargeIntent(ctx context.Context, chargeID, intentID string, at time.Time) (err error) {
	defer wrapErr(&err, "set auto charge intent")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE billing_auto_charges SET payment_intent = ?, updated_at = ? WHERE id = ?`), intentID, micros(at), chargeID)
		return err
	})
}

// SucceedAutoCharge marks a charge succeeded (also one marked failed on an ambiguous
// error: the money was taken after all).
func (db *DB) SucceedAutoCharge(ctx context.Context, chargeID, intentID string, at time.Time) (err error) {
	defer wrapErr(&err, "succeed auto charge")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE billing_auto_charges SET status = 'succeeded', payment_intent = ?, updated_at = ? WHERE id = ?`),
			intentID, micros(at), chargeID)
		return err
	})
}

// FailAutoCharge marks a pending charge failed, turns the workspace's auto-recharge off
// and stores the notice, in one transaction; false when the charge was not pending.
func (db *DB) FailAutoCharge(ctx context.Context, chargeID, reason string, n billing.Notice, at time.Time) (_ bool, err error) {
	defer wrapErr(&err, "fail auto charge")
	var first bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		first = false
		var ws string
		err := tx.QueryRowContext(ctx, db.q(`UPDATE billing_auto_charges SET status = 'failed', failure = ?, updated_at = ?
			WHERE id = ? AND status = 'pending' RETURNING workspace_id`), reason, micros(at), chargeID).Scan(&ws)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE billing_auto_recharge SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE workspace_id = ?`),
			reason, micros(at), ws); err != nil {
			return err
		}
		n.WorkspaceID = ws
		first = true
		return db.addNoticeTx(ctx, tx, n)
	})
	return first, err
}
