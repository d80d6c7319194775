package store

import (
	"context"
	"database/sql"
	"strings"

	"spectra/internal/audit"
)

// The operator's audit log (audit.Store). Append and read only: there is no update or
// delete here, and migration 0023's triggers refuse both on either database.

const auditColumns = `id, at, actor, source, action, workspace_id, target, before_state, after_state, idempotency_key FROM audit_log`

func scanAudit(row interface{ Scan(...any) error }) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	var before, after string
	if err := row.Scan(&e.ID, &at, &e.Actor, &e.Source, &e.Action, &e.WorkspaceID, &e.Target, &before, &after, &e.IdempotencyKey); err != nil {
		return audit.Entry{}, err
	}
	e.At, e.Before, e.After = fromMicros(at), audit.DecodeFields(before), audit.DecodeFields(after)
	return e, nil
}

// AppendAudit adds e, or returns the entry already recorded for its action and
// (non-empty) idempotency key with false.
func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) (out audit.Entry, created bool, err error) {
	defer wrapErr(&err, "append audit entry")
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO audit_log (at, actor, source, action, workspace_id, target, before_state, after_state, idempotency_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (action, idempotency_key) WHERE idempotency_key <> '' DO NOTHING RETURNING id`),
			micros(e.At), e.Actor, e.Source, e.Action, e.WorkspaceID, e.Target, audit.EncodeFields(e.Before), audit.EncodeFields(e.After), e.IdempotencyKey).Scan(&id)
		if err == nil {
			out, created = e, true
			out.ID = id
			return nil
		}
		if err != sql.ErrNoRows {
			return err
		}
		out, err = scanAudit(tx.QueryRowContext(ctx, db.q(`SELECT `+auditColumns+` WHERE action = ? AND idempotency_key = ?`), e.Action, e.IdempotencyKey))
		created = false
		return err
	})
	if created {
		out.Before, out.After = orEmpty(out.Before), orEmpty(out.After)
	}
	return out, created, err
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// AuditEntries lists the entries f selects, newest first, by the index of its filter.
func (db *DB) AuditEntries(ctx context.Context, f audit.Filter) (_ []audit.Entry, err error) {
	defer wrapErr(&err, "list audit entries")
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.WorkspaceID != "" {
		where, args = append(where, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	q := `SELECT ` + auditColumns
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
