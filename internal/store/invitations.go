package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"spectra/internal/team"
)

// This file implements team.InvitationStore.
var _ team.InvitationStore = (*DB)(nil)

const invitationColumns = `i.id, i.workspace_id, w.name, i.email, i.role, i.invited_by, i.created_at, i.expires_at,
	i.accepted_at, COALESCE(i.accepted_by, ''), i.revoked_at, i.token_hash
	FROM invitations i JOIN workspaces w ON w.id = i.workspace_id`

func scanInvitation(row scanner) (team.Invitation, string, error) {
	var inv team.Invitation
	var role, hash string
	var created, expires int64
	var accepted, revoked sql.NullInt64
	err := row.Scan(&inv.ID, &inv.WorkspaceID, &inv.WorkspaceName, &inv.Email, &role, &inv.InvitedBy, &created, &expires,
		&accepted, &inv.AcceptedBy, &revoked, &hash)
	inv.Role = team.Role(role)
	inv.CreatedAt, inv.ExpiresAt = fromMicros(created), fromMicros(expires)
	inv.AcceptedAt, inv.RevokedAt = nullMicros(accepted), nullMicros(revoked)
	return inv, hash, err
}

func (db *DB) invitation(ctx context.Context, q querier, id string) (team.Invitation, string, error) {
	inv, hash, err := scanInvitation(q.QueryRowContext(ctx, db.q(`SELECT `+invitationColumns+` WHERE i.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, "", team.ErrInvitationNotFound
	}
	return inv, hash, err
}

// CreateInvitation stores an invitation, replacing any open one of the same email in the
// workspace, and refuses an email that is already a member.
func (db *DB) CreateInvitation(ctx context.Context, inv team.Invitation, tokenHash string) (_ team.Invitation, err error) {
	defer wrapErr(&err, "create invitation")
	var out team.Invitation
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if ok, err := db.lockWorkspace(ctx, tx, inv.WorkspaceID); err != nil {
			return err
		} else if !ok {
			return errWorkspaceNotFound
		}
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND u.email = ?`),
			inv.WorkspaceID, inv.Email).Scan(&one)
		if err == nil {
			return team.ErrAlreadyMember
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE invitations SET revoked_at = ? WHERE workspace_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL`),
			micros(inv.CreatedAt), inv.WorkspaceID, inv.Email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			inv.ID, inv.WorkspaceID, inv.Email, string(inv.Role), tokenHash, inv.InvitedBy, micros(inv.CreatedAt), micros(inv.ExpiresAt)); err != nil {
			return err
		}
		out, _, err = db.invitation(ctx, tx, inv.ID)
		return err
	})
	return out, err
}

// Invitation returns one invitation and the hash of its token.
func (db *DB) Invitation(ctx context.Context, id string) (_ team.Invitation, _ string, err error) {
	defer wrapErr(&err, "invitation")
	return db.invitation(ctx, db.read, id)
}

// Invitations returns a workspace's invitations, newest first; with pendingAt, only the
// open ones.
func (db *DB) Invitations(ctx context.Context, workspaceID string, pendingAt *time.Time) (_ []team.Invitation, err error) {
	defer wrapErr(&err, "invitations")
	query := `SELECT ` + invitationColumns + ` WHERE i.workspace_id = ?`
	args := []any{workspaceID}
	if pendingAt != nil {
		query += ` AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?`
		args = append(args, micros(*pendingAt))
	}
	rows, err := db.read.QueryContext(ctx, db.q(query+` ORDER BY i.created_at DESC, i.id DESC`), args...)
	return collect(rows, err, func(row scanner) (team.Invitation, error) {
		inv, _, err := scanInvitation(row)
		return inv, err
	})
}

// RevokeInvitation marks an unanswered invitation revoked.
func (db *DB) RevokeInvitation(ctx context.Context, workspaceID, id string, at time.Time) (_ team.Invitation, err error) {
	defer wrapErr(&err, "revoke invitation")
	var out team.Invitation
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE invitations SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND accepted_at IS NULL AND revoked_at IS NULL`),
			micros(at), id, workspaceID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		out, _, err = db.invitation(ctx, tx, id)
		if err != nil {
			return err
		}
		if out.WorkspaceID != workspaceID {
			return team.ErrInvitationNotFound
		}
		if n == 0 {
			if out.AcceptedAt != nil {
				return team.ErrInvitationUsed
			}
			return team.ErrInvitationRevoked
		}
		return nil
	})
	return out, err
}

// AcceptInvitation consumes an open invitation (a guarded update), creates newUser when
// given, and adds the member, in one transaction.
func (db *DB) AcceptInvitation(ctx context.Context, id, tokenHash, userID string, newUser *team.User, passwordHash string, at time.Time) (_ team.Member, err error) {
	defer wrapErr(&err, "accept invitation")
	var out team.Member
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// Lock the workspace first, as every membership change does, so that concurrent
		// changes of one workspace queue in one order.
		inv, _, err := db.invitation(ctx, tx, id)
		if errors.Is(err, team.ErrInvitationNotFound) {
			return team.ErrInvitationInvalid
		}
		if err != nil {
			return err
		}
		if ok, err := db.lockWorkspace(ctx, tx, inv.WorkspaceID); err != nil {
			return err
		} else if !ok {
			return errWorkspaceNotFound
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE invitations SET accepted_at = ?, accepted_by = ?
			WHERE id = ? AND token_hash = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?`),
			micros(at), userID, id, tokenHash, micros(at))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return db.whyNotOpen(ctx, tx, id, tokenHash, at)
		}
		if newUser != nil {
			if err := insertUser(ctx, db, tx, *newUser, passwordHash); err != nil {
				return err
			}
		}
		res, err = tx.ExecContext(ctx, db.q(`INSERT INTO members (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id, user_id) DO NOTHING`),
			inv.WorkspaceID, userID, string(inv.Role), micros(at))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return team.ErrAlreadyMember
		}
		out, err = db.member(ctx, tx, inv.WorkspaceID, userID)
		return err
	})
	return out, err
}

// whyNotOpen names the reason the guarded accept updated nothing.
func (db *DB) whyNotOpen(ctx context.Context, tx *sql.Tx, id, tokenHash string, at time.Time) error {
	inv, hash, err := db.invitation(ctx, tx, id)
	switch {
	case errors.Is(err, team.ErrInvitationNotFound) || err == nil && hash != tokenHash:
		return team.ErrInvitationInvalid
	case err != nil:
		return err
	case inv.AcceptedAt != nil:
		return team.ErrInvitationUsed
	case inv.RevokedAt != nil:
		return team.ErrInvitationRevoked
	case !inv.ExpiresAt.After(at):
		return team.ErrInvitationExpired
	}
	return team.ErrInvitationInvalid
}
