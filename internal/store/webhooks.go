package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"spectra/internal/notify"
)

// This file implements notify.Store: webhook endpoints, the alerts outbox and deliveries.
var _ notify.Store = (*DB)(nil)

const endpointColumns = `id, workspace_id, url, description, enabled, event_types, secret, created_at, updated_at FROM webhook_endpoints`

func scanEndpoint(row scanner) (notify.Endpoint, error) {
	var e notify.Endpoint
	var enabled int
	var types string
	var created, updated int64
	err := row.Scan(&e.ID, &e.WorkspaceID, &e.URL, &e.Description, &enabled, &types, &e.Secret, &created, &updated)
	e.Enabled = enabled == 1
	e.EventTypes = []string{}
	if types != "" {
		e.EventTypes = strings.Split(types, ",")
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	return e, err
}

// CreateEndpoint stores a new webhook endpoint.
func (db *DB) CreateEndpoint(ctx context.Context, e notify.Endpoint) (err error) {
	defer wrapErr(&err, "create endpoint")
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM workspaces WHERE id = ?`), e.WorkspaceID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errWorkspaceNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO webhook_endpoints (id, workspace_id, url, description, enabled, event_types, secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.ID, e.WorkspaceID, e.URL, e.Description, boolInt(e.Enabled), strings.Join(e.EventTypes, ","), e.Secret, micros(e.CreatedAt), micros(e.UpdatedAt))
		return err
	})
}

// Endpoint returns one endpoint of a workspace, or notify.ErrEndpointNotFound.
func (db *DB) Endpoint(ctx context.Context, workspaceID, id string) (_ notify.Endpoint, err error) {
	defer wrapErr(&err, "endpoint")
	e, err := scanEndpoint(db.read.QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` WHERE workspace_id = ? AND id = ?`), workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, notify.ErrEndpointNotFound
	}
	return e, err
}

// Endpoints returns a workspace's endpoints, oldest first.
func (db *DB) Endpoints(ctx context.Context, workspaceID string) (_ []notify.Endpoint, err error) {
	defer wrapErr(&err, "endpoints")
	return db.endpoints(ctx, db.read, workspaceID)
}

func (db *DB) endpoints(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, workspaceID string) ([]notify.Endpoint, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT `+endpointColumns+` WHERE workspace_id = ? ORDER BY created_at, id`), workspaceID)
	return collect(rows, err, scanEndpoint)
}

// UpdateEndpoint saves an endpoint's settable fields and secret.
func (db *DB) UpdateEndpoint(ctx context.Context, e notify.Endpoint) (err error) {
	defer wrapErr(&err, "update endpoint")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_endpoints SET url = ?, description = ?, enabled = ?, event_types = ?, secret = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`),
			e.URL, e.Description, boolInt(e.Enabled), strings.Join(e.EventTypes, ","), e.Secret, micros(e.UpdatedAt), e.WorkspaceID, e.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notify.ErrEndpointNotFound
		}
		return nil
	})
}

// DeleteEndpoint deletes an endpoint and its deliveries.
func (db *DB) DeleteEndpoint(ctx context.Context, workspaceID, id string) (err error) {
	defer wrapErr(&err, "delete endpoint")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM deliveries WHERE workspace_id = ? AND endpoint_id = ?`), workspaceID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM webhook_endpoints WHERE workspace_id = ? AND id = ?`), workspaceID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notify.ErrEndpointNotFound
		}
		return nil
	})
}

// UndispatchedAlerts returns the ids of up to limit undispatched alerts, oldest first.
func (db *DB) UndispatchedAlerts(ctx context.Context, limit int) (_ []string, err error) {
	defer wrapErr(&err, "undispatched alerts")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id FROM alerts WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT ?`), limit)
	return collect(rows, err, scanString)
}

// DispatchAlert claims an alert by a guarded update of its dispatched_at and, in the
// same transaction, inserts the deliveries plan makes of it. Of concurrent callers only
// the first claims it; the others see no row updated and insert nothing.
func (db *DB) DispatchAlert(ctx context.Context, id string, at time.Time, roles []string,
	plan func(a notify.Alert, endpoints []notify.Endpoint, emails []string) []notify.Delivery) (_ bool, err error) {
	defer wrapErr(&err, "dispatch alert")
	claimed := false
	err = db.tx(ctx, func(tx *sql.Tx) error {
		claimed = false
		res, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET dispatched_at = ? WHERE id = ? AND dispatched_at IS NULL`), micros(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		var a notify.Alert
		var payload string
		var created int64
		if err := tx.QueryRowContext(ctx, db.q(`SELECT id, workspace_id, kind, subject, body, payload, created_at FROM alerts WHERE id = ?`), id).
			Scan(&a.ID, &a.WorkspaceID, &a.Kind, &a.Subject, &a.Body, &payload, &created); err != nil {
			return err
		}
		a.Payload, a.CreatedAt = json.RawMessage(payload), fromMicros(created)
		endpoints, err := db.endpoints(ctx, tx, a.WorkspaceID)
		if err != nil {
			return err
		}
		emails, err := recipientEmails(ctx, db, tx, a.WorkspaceID, roles)
		if err != nil {
			return err
		}
		for _, d := range plan(a, endpoints, emails) {
			if err := insertDelivery(ctx, db, tx, d); err != nil {
				return err
			}
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// recipientEmails returns the emails of a workspace's members with one of roles.
func recipientEmails(ctx context.Context, db *DB, tx *sql.Tx, workspaceID string, roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	args := []any{workspaceID}
	for _, r := range roles {
		args = append(args, r)
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT u.email FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND m.role IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(roles)), ",")+`) ORDER BY u.email`), args...)
	return collect(rows, err, scanString)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func insertDelivery(ctx context.Context, db *DB, tx *sql.Tx, d notify.Delivery) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO deliveries (id, alert_id, message_id, event_type, workspace_id, channel, endpoint_id, address, subject, body, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`),
		d.ID, nullString(d.AlertID), d.MessageID, d.EventType, d.WorkspaceID, d.Channel, nullString(d.EndpointID), d.Address, d.Subject, d.Body,
		d.Status, nullTime(d.NextAttemptAt), micros(d.CreatedAt))
	return err
}

// QueueDelivery inserts one delivery.
func (db *DB) QueueDelivery(ctx context.Context, d notify.Delivery) (err error) {
	defer wrapErr(&err, "queue delivery")
	return db.tx(ctx, func(tx *sql.Tx) error { return insertDelivery(ctx, db, tx, d) })
}

const deliveryColumns = `d.id, d.alert_id, d.message_id, d.event_type, d.workspace_id, d.channel, d.endpoint_id, d.address, d.subject, d.body,
	d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, d.lease_until, d.created_at`

func scanDelivery(row scanner, extra ...any) (notify.Delivery, error) {
	var d notify.Delivery
	var alert, endpoint sql.NullString
	var next, last, delivered, lease sql.NullInt64
	var created int64
	err := row.Scan(append([]any{&d.ID, &alert, &d.MessageID, &d.EventType, &d.WorkspaceID, &d.Channel, &endpoint, &d.Address, &d.Subject, &d.Body,
		&d.Status, &d.Attempts, &next, &last, &d.LastStatus, &d.LastError, &delivered, &lease, &created}, extra...)...)
	d.AlertID, d.EndpointID = alert.String, endpoint.String
	d.NextAttemptAt, d.LastAttemptAt, d.DeliveredAt = nullMicros(next), nullMicros(last), nullMicros(delivered)
	if lease.Valid {
		d.LeaseUntil = fromMicros(lease.Int64)
	}
	d.CreatedAt = fromMicros(created)
	return d, err
}

// ClaimDeliveries leases due pending deliveries, each by a guarded update that also
// counts the attempt: of concurrent claimers, one wins each delivery.
func (db *DB) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) (_ []notify.Delivery, err error) {
	defer wrapErr(&err, "claim deliveries")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?`),
		micros(now), micros(now), limit)
	due, err := collect(rows, err, scanString)
	if err != nil {
		return nil, err
	}
	var out []notify.Delivery
	for _, id := range due {
		var d notify.Delivery
		var won bool
		err := db.tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET lease_until = ?, attempts = attempts + 1, last_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`),
				micros(leaseUntil), micros(now), id, micros(now), micros(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				won = false
				return nil
			}
			won = true
			var url, secret sql.NullString
			var enabled sql.NullInt64
			d, err = scanDelivery(tx.QueryRowContext(ctx, db.q(`SELECT `+deliveryColumns+`, e.url, e.secret, e.enabled FROM deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?`), id),
				&url, &secret, &enabled)
			d.URL, d.Secret, d.EndpointEnabled = url.String, secret.String, enabled.Int64 == 1
			return err
		})
		if err != nil {
			return out, err
		}
		if won {
			out = append(out, d)
		}
	}
	return out, nil
}

// CompleteDelivery records an attempt's outcome while the claim still holds.
func (db *DB) CompleteDelivery(ctx context.Context, o notify.Outcome) (_ bool, err error) {
	defer wrapErr(&err, "complete delivery")
	var next, delivered any
	switch o.Status {
	case notify.StatusPending:
		next = micros(o.NextAttempt)
	case notify.StatusDelivered:
		delivered = micros(o.At)
	}
	var n int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET status = ?, next_attempt_at = ?, delivered_at = ?, last_status = ?, last_error = ?, lease_until = NULL WHERE id = ? AND attempts = ? AND lease_until = ? AND status = 'pending'`),
			o.Status, next, delivered, o.HTTPStatus, truncate(o.Error, 500), o.ID, o.Attempts, micros(o.LeaseUntil))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Deliveries lists deliveries newest first, after the cursor's delivery when given.
func (db *DB) Deliveries(ctx context.Context, f notify.DeliveryFilter) (_ []notify.Delivery, err error) {
	defer wrapErr(&err, "deliveries")
	where, args := `d.workspace_id = ?`, []any{f.WorkspaceID}
	if f.EndpointID != "" {
		where += ` AND d.endpoint_id = ?`
		args = append(args, f.EndpointID)
	}
	if f.Cursor != "" {
		var created int64
		err := db.read.QueryRowContext(ctx, db.q(`SELECT created_at FROM deliveries WHERE id = ? AND workspace_id = ?`), f.Cursor, f.WorkspaceID).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notify.ErrInvalidCursor
		}
		if err != nil {
			return nil, err
		}
		where += ` AND (d.created_at < ? OR (d.created_at = ? AND d.id < ?))`
		args = append(args, created, created, f.Cursor)
	}
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+deliveryColumns+` FROM deliveries d WHERE `+where+` ORDER BY d.created_at DESC, d.id DESC LIMIT ?`), args...)
	return collect(rows, err, func(row scanner) (notify.Delivery, error) { return scanDelivery(row) })
}

// PruneDeliveries deletes finished deliveries created before before.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (_ int, err error) {
	defer wrapErr(&err, "prune deliveries")
	var n int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM deliveries WHERE status IN ('delivered', 'failed') AND created_at < ?`), micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
