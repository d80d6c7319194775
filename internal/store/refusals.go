package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/requestlog"
)

// Refusals (migration 0018) are the gateway requests answered with an error: one row
// each in request_refusals, written in batches by requestlog.Recorder, bounded by age
// and per workspace (PruneRefusals). No rollup, wallet or transfer counts them.

const refusalColumns = `id, workspace_id, ts, key_id, member, project, model, endpoint, upstream, status, kind, code, message, budget_id, stream, latency_ms`

// InsertRefusals stores refusals in one statement; an id stored already is skipped.
func (db *DB) InsertRefusals(ctx context.Context, rs []requestlog.Refusal) (err error) {
	defer wrapErr(&err, "insert refusals")
	if len(rs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO request_refusals (` + refusalColumns + `) VALUES `)
	args := make([]any, 0, len(rs)*16)
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		args = append(args, r.ID, r.WorkspaceID, micros(r.Timestamp), r.KeyID, r.Member, r.Project, r.Model, r.Endpoint, r.Upstream,
			r.HTTPStatus, r.Kind, r.Code, r.Message, r.BudgetID, boolInt(r.Stream), r.LatencyMS)
	}
	b.WriteString(` ON CONFLICT (id) DO NOTHING`)
	_, err = db.write.ExecContext(ctx, db.q(b.String()), args...)
	return err
}

func scanRefusal(row scanner) (requestlog.Refusal, error) {
	var r requestlog.Refusal
	var ts int64
	var stream int
	err := row.Scan(&r.ID, &r.WorkspaceID, &ts, &r.KeyID, &r.Member, &r.Project, &r.Model, &r.Endpoint, &r.Upstream,
		&r.HTTPStatus, &r.Kind, &r.Code, &r.Message, &r.BudgetID, &stream, &r.LatencyMS)
	r.Timestamp, r.Stream = fromMicros(ts), stream != 0
	return r, err
}

// Refusals returns the refusals f selects, newest first (or by latency), at most f.Limit.
func (db *DB) Refusals(ctx context.Context, f requestlog.RefusalFilter) (_ []requestlog.Refusal, err error) {
	defer wrapErr(&err, "refusals")
	if f.Limit <= 0 {
		return []requestlog.Refusal{}, nil
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + refusalColumns + ` FROM request_refusals WHERE workspace_id = ?`)
	args := []any{f.WorkspaceID}
	cond := func(sql string, a ...any) {
		b.WriteString(" AND " + sql)
		args = append(args, a...)
	}
	if !f.Start.IsZero() {
		cond("ts >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		cond("ts < ?", micros(f.End))
	}
	if f.Kind != "" {
		cond("kind = ?", f.Kind)
	}
	if f.ID != "" {
		cond("id = ?", f.ID)
	}
	for _, d := range [...]struct {
		col    string
		values []string
	}{{"model", f.Models}, {"key_id", f.Keys}, {"project", f.Projects}, {"member", f.Members}} {
		if len(d.values) == 0 {
			continue
		}
		b.WriteString(" AND " + d.col + " IN (?" + strings.Repeat(", ?", len(d.values)-1) + ")")
		for _, v := range d.values {
			args = append(args, v)
		}
	}
	switch a := f.After; {
	case a == nil:
	case f.ByLatency:
		cond("(latency_ms, ts, id) < (?, ?, ?)", a.Value, micros(a.Time), a.ID)
	case a.Value <= 0: // a refusal's key is 0: those after the position come later in time
		cond("(ts, id) < (?, ?)", micros(a.Time), a.ID)
	}
	if f.ByLatency {
		b.WriteString(" ORDER BY latency_ms DESC, ts DESC, id DESC LIMIT ?")
	} else {
		b.WriteString(" ORDER BY ts DESC, id DESC LIMIT ?")
	}
	args = append(args, f.Limit)
	rows, err := db.read.QueryContext(ctx, db.q(b.String()), args...)
	return collect(rows, err, scanRefusal)
}

// Refusal returns one refusal of the workspace, or requestlog.ErrNotFound.
func (db *DB) Refusal(ctx context.Context, workspaceID, id string) (_ requestlog.Refusal, err error) {
	defer wrapErr(&err, "refusal")
	r, err := scanRefusal(db.read.QueryRowContext(ctx, db.q(`SELECT `+refusalColumns+` FROM request_refusals WHERE id = ? AND workspace_id = ?`), id, workspaceID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, requestlog.ErrNotFound
	}
	return r, err
}

// RefusalCounts counts the newest max of a workspace's refusals in [start, end) by code,
// most first (from the log index alone).
func (db *DB) RefusalCounts(ctx context.Context, workspaceID string, start, end time.Time, max int) (_ []requestlog.CodeCount, err error) {
	defer wrapErr(&err, "refusal counts")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT code, COUNT(*) FROM (SELECT code FROM request_refusals
		WHERE workspace_id = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT ?) r GROUP BY code ORDER BY COUNT(*) DESC, code`),
		workspaceID, micros(start), micros(end), max)
	return collect(rows, err, func(row scanner) (requestlog.CodeCount, error) {
		var c requestlog.CodeCount
		err := row.Scan(&c.Code, &c.Count)
		return c, err
	})
}

// pruneBatch is how many refusals one delete of PruneRefusals removes, so that no
// transaction holds the write lock for long.
const pruneBatch = 5000

// PruneRefusals deletes refusals older than before, then, of each workspace named, all
// but the newest keep. It returns how many it deleted.
func (db *DB) PruneRefusals(ctx context.Context, before time.Time, keep int, workspaces []string) (n int, err error) {
	defer wrapErr(&err, "prune refusals")
	for {
		res, err := db.write.ExecContext(ctx, db.q(`DELETE FROM request_refusals WHERE id IN
			(SELECT id FROM request_refusals WHERE ts < ? ORDER BY ts LIMIT ?)`), micros(before), pruneBatch)
		if err != nil {
			return n, err
		}
		d, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += int(d)
		if d < pruneBatch {
			break
		}
	}
	for _, ws := range workspaces {
		var ts int64
		var id string
		err := db.read.QueryRowContext(ctx, db.q(`SELECT ts, id FROM request_refusals WHERE workspace_id = ?
			ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ?`), ws, keep).Scan(&ts, &id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return n, err
		}
		res, err := db.write.ExecContext(ctx, db.q(`DELETE FROM request_refusals WHERE workspace_id = ? AND (ts, id) <= (?, ?)`), ws, ts, id)
		if err != nil {
			return n, err
		}
		d, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += int(d)
	}
	return n, nil
}

// UsageTransfer returns the ledger transfer that charged event id of the workspace,
// whose time is ts: the usage transfer of the commit group that applied it (its block's
// usage_key), or false when the event cost nothing or is not found.
func (db *DB) UsageTransfer(ctx context.Context, workspaceID, id string, ts time.Time) (_ ledger.Transfer, _ bool, err error) {
	defer wrapErr(&err, "usage transfer")
	t := micros(ts)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT usage_key, data FROM event_blocks
		WHERE workspace_id = ? AND max_ts >= ? AND max_ts < ? AND min_ts <= ? ORDER BY max_ts, seq`), workspaceID, t, t+blockSpan, t)
	if err != nil {
		return ledger.Transfer{}, false, err
	}
	needle := "[" + string(appendJSONString(nil, id)) + ","
	key := ""
	err = eachRow(rows, nil, func(row scanner) error {
		var uk, data string
		if err := row.Scan(&uk, &data); err != nil {
			return err
		}
		if key == "" && (strings.HasPrefix(data, "["+needle) || strings.Contains(data, ","+needle)) {
			key = uk
		}
		return nil
	})
	if err != nil || key == "" {
		return ledger.Transfer{}, false, err
	}
	var tr ledger.Transfer
	var kind, from, to string
	var created int64
	var ws sql.NullString
	err = db.read.QueryRowContext(ctx, db.q(`SELECT id, idempotency_key, kind, from_account, to_account, amount, workspace_id, note, created_at
		FROM transfers WHERE idempotency_key = ?`), key).Scan(&tr.ID, &tr.IdempotencyKey, &kind, &from, &to, &tr.Amount, &ws, &tr.Note, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Transfer{}, false, nil
	}
	tr.Kind, tr.From, tr.To, tr.WorkspaceID, tr.CreatedAt = ledger.Kind(kind), ledger.AccountID(from), ledger.AccountID(to), ws.String, fromMicros(created)
	return tr, err == nil, err
}
