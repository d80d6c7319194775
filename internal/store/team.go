package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/team"
)

var errWorkspaceNotFound = errs.E(errs.NotFound, "workspace_not_found", "no such workspace")
var errKeyNotFound = errs.E(errs.NotFound, "key_not_found", "no such key")

// CreateWorkspace stores w and opens its wallet.
func (db *DB) CreateWorkspace(ctx context.Context, w team.Workspace) (err error) {
	defer wrapErr(&err, "create workspace")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workspaces (id, name, timezone, created_at) VALUES (?, ?, ?, ?)`),
			w.ID, w.Name, w.Timezone, micros(w.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO accounts (id, workspace_id, kind, overdraft_limit, created_at) VALUES (?, ?, 'wallet', ?, ?)`),
			string(ledger.Wallet(w.ID)), w.ID, int64(w.OverdraftLimit), micros(w.CreatedAt))
		return err
	})
}

const workspaceColumns = `w.id, w.name, w.timezone, a.overdraft_limit, COALESCE(w.price_list, ''), w.created_at FROM workspaces w JOIN accounts a ON a.id = 'wallet:' || w.id`

func scanWorkspace(row scanner) (team.Workspace, error) {
	var w team.Workspace
	var created int64
	err := row.Scan(&w.ID, &w.Name, &w.Timezone, &w.OverdraftLimit, &w.PriceList, &created)
	w.CreatedAt = fromMicros(created)
	return w, err
}

// Workspace returns one workspace.
func (db *DB) Workspace(ctx context.Context, id string) (_ team.Workspace, err error) {
	defer wrapErr(&err, "workspace")
	w, err := scanWorkspace(db.read.QueryRowContext(ctx, db.q(`SELECT `+workspaceColumns+` WHERE w.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, errWorkspaceNotFound
	}
	return w, err
}

// Workspaces returns every workspace, oldest first.
func (db *DB) Workspaces(ctx context.Context) (_ []team.Workspace, err error) {
	defer wrapErr(&err, "workspaces")
	rows, err := db.read.QueryContext(ctx, `SELECT `+workspaceColumns+` ORDER BY w.created_at, w.id`)
	return collect(rows, err, scanWorkspace)
}

// CreateKey stores k with the hash of its secret.
func (db *DB) CreateKey(ctx context.Context, k team.APIKey, hash string) (err error) {
	defer wrapErr(&err, "create key")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO api_keys (id, workspace_id, name, kind, prefix, hash, project, member_id, created_at, allowed_models, rpm, tpm, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.ID, k.WorkspaceID, k.Name, string(k.Kind), k.Prefix, hash, k.Project, k.MemberID, micros(k.CreatedAt), encodeModels(k.AllowedModels), k.RPM, k.TPM, optMicros(k.ExpiresAt))
		return err
	})
}

const keyColumns = `id, workspace_id, name, kind, prefix, project, member_id, created_at, last_used_at, revoked_at, allowed_models, rpm, tpm, expires_at FROM api_keys`

func scanKey(row scanner) (team.APIKey, error) {
	var k team.APIKey
	var kind string
	var created int64
	var used, revoked, expires sql.NullInt64
	var models string
	err := row.Scan(&k.ID, &k.WorkspaceID, &k.Name, &kind, &k.Prefix, &k.Project, &k.MemberID, &created, &used, &revoked, &models, &k.RPM, &k.TPM, &expires)
	if err == nil {
		k.AllowedModels, err = decodeModels(models)
	}
	k.Kind = team.KeyKind(kind)
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt = nullMicros(used)
	k.RevokedAt = nullMicros(revoked)
	k.ExpiresAt = nullMicros(expires)
	return k, err
}

// Keys returns a workspace's keys, newest first.
func (db *DB) Keys(ctx context.Context, workspaceID string) (_ []team.APIKey, err error) {
	defer wrapErr(&err, "keys")
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+keyColumns+` WHERE workspace_id = ? ORDER BY created_at DESC, id`), workspaceID)
	return collect(rows, err, scanKey)
}

// KeyByHash finds a key by the hash of its secret.
func (db *DB) KeyByHash(ctx context.Context, hash string) (_ team.APIKey, err error) {
	defer wrapErr(&err, "key by hash")
	k, err := scanKey(db.read.QueryRowContext(ctx, db.q(`SELECT `+keyColumns+` WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, errKeyNotFound
	}
	return k, err
}

// RevokeKey marks a key revoked (the first revocation time is kept).
func (db *DB) RevokeKey(ctx context.Context, workspaceID, keyID string, at time.Time) (_ team.APIKey, err error) {
	defer wrapErr(&err, "revoke key")
	var k team.APIKey
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE workspace_id = ? AND id = ?`), micros(at), workspaceID, keyID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errKeyNotFound
		}
		k, err = scanKey(tx.QueryRowContext(ctx, db.q(`SELECT `+keyColumns+` WHERE id = ?`), keyID))
		return err
	})
	return k, err
}

// TouchKeys records last-used times; a time never moves backwards.
func (db *DB) TouchKeys(ctx context.Context, used map[string]time.Time) (err error) {
	defer wrapErr(&err, "touch keys")
	if len(used) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		for id, at := range used {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), micros(at), id, micros(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetKeyLimits changes a key's settings (allowed models, rpm, tpm, project, expiry); the fields of
// l that are nil stay as they are. errs.NotFound (key_not_found), or an errs.Invalid error.
func (db *DB) SetKeyLimits(ctx context.Context, workspaceID, keyID string, l team.KeyLimits) (_ team.APIKey, err error) {
	defer wrapErr(&err, "set key limits")
	if err := l.Validate(); err != nil {
		return team.APIKey{}, err
	}
	var k team.APIKey
	err = db.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanKey(tx.QueryRowContext(ctx, db.q(`SELECT `+keyColumns+` WHERE workspace_id = ? AND id = ?`), workspaceID, keyID))
		if errors.Is(err, sql.ErrNoRows) {
			return errKeyNotFound
		}
		if err != nil {
			return err
		}
		k = l.Apply(old)
		_, err = tx.ExecContext(ctx, db.q(`UPDATE api_keys SET allowed_models = ?, rpm = ?, tpm = ?, project = ?, expires_at = ? WHERE id = ?`),
			encodeModels(k.AllowedModels), k.RPM, k.TPM, k.Project, optMicros(k.ExpiresAt), keyID)
		return err
	})
	return k, err
}

// encodeModels stores a model list as a JSON array ("" for none).
func encodeModels(models []string) string {
	if len(models) == 0 {
		return ""
	}
	b, _ := json.Marshal(models)
	return string(b)
}

func decodeModels(s string) ([]string, error) {
	out := []string{}
	if s == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("decode model list %q: %w", s, err)
	}
	return out, nil
}

// optMicros stores an optional time (NULL for nil).
func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}
