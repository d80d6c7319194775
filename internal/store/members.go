package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/team"
)

// This file implements team.AccountStore: users, memberships, sessions and first-run setup.
var _ team.AccountStore = (*DB)(nil)

const userColumns = `id, email, name, operator, created_at FROM users`

func scanUser(row scanner, extra ...any) (team.User, error) {
	var u team.User
	var operator int
	var created int64
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.Name, &operator, &created}, extra...)...)
	u.Operator = operator == 1
	u.CreatedAt = fromMicros(created)
	return u, err
}

func insertUser(ctx context.Context, db *DB, tx *sql.Tx, u team.User, passwordHash string) error {
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO users (id, email, name, password_hash, operator, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`),
		u.ID, u.Email, u.Name, passwordHash, boolInt(u.Operator), micros(u.CreatedAt))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return team.ErrEmailTaken
	}
	return nil
}

// CreateUser stores u with its password hash; a taken email is team.ErrEmailTaken.
func (db *DB) CreateUser(ctx context.Context, u team.User, passwordHash string) (err error) {
	defer wrapErr(&err, "create user")
	return db.tx(ctx, func(tx *sql.Tx) error { return insertUser(ctx, db, tx, u, passwordHash) })
}

// User returns one user.
func (db *DB) User(ctx context.Context, id string) (_ team.User, err error) {
	defer wrapErr(&err, "user")
	u, err := scanUser(db.read.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, team.ErrUserNotFound
	}
	return u, err
}

// UserByEmail returns the user with this normalised email and their password hash.
func (db *DB) UserByEmail(ctx context.Context, email string) (_ team.User, _ string, err error) {
	defer wrapErr(&err, "user by email")
	var hash string
	u, err := scanUser(db.read.QueryRowContext(ctx, db.q(`SELECT id, email, name, operator, created_at, password_hash FROM users WHERE email = ?`), email), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", team.ErrUserNotFound
	}
	return u, hash, err
}

// HasUsers reports whether any user exists.
func (db *DB) HasUsers(ctx context.Context) (_ bool, err error) {
	defer wrapErr(&err, "has users")
	var n int
	err = db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) u`).Scan(&n)
	return n > 0, err
}

// SetPasswordHash replaces a user's password hash and deletes all their sessions.
func (db *DB) SetPasswordHash(ctx context.Context, userID, passwordHash string) (err error) {
	defer wrapErr(&err, "set password hash")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE users SET password_hash = ? WHERE id = ?`), passwordHash, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return team.ErrUserNotFound
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ?`), userID)
		return err
	})
}

// CreateSession stores s under tokenHash.
func (db *DB) CreateSession(ctx context.Context, tokenHash string, s team.Session) (err error) {
	defer wrapErr(&err, "create session")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
			tokenHash, s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
		return err
	})
}

// Session returns the session stored under tokenHash, or team.ErrInvalidSession.
func (db *DB) Session(ctx context.Context, tokenHash string) (_ team.Session, err error) {
	defer wrapErr(&err, "session")
	var s team.Session
	var created, expires int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = ?`), tokenHash).
		Scan(&s.UserID, &s.CSRFToken, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, team.ErrInvalidSession
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, err
}

// ExtendSession moves a session's expiry forward (never backwards).
func (db *DB) ExtendSession(ctx context.Context, tokenHash string, expiresAt time.Time) (err error) {
	defer wrapErr(&err, "extend session")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE sessions SET expires_at = ? WHERE token_hash = ? AND expires_at < ?`),
			micros(expiresAt), tokenHash, micros(expiresAt))
		return err
	})
}

// DeleteSession deletes one session.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) (err error) {
	defer wrapErr(&err, "delete session")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE token_hash = ?`), tokenHash)
		return err
	})
}

// DeleteUserSessions deletes every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) (err error) {
	defer wrapErr(&err, "delete user sessions")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE user_id = ?`), userID)
		return err
	})
}

// DeleteExpiredSessions deletes sessions that expired at or before now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (_ int, err error) {
	defer wrapErr(&err, "delete expired sessions")
	var n int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE expires_at <= ?`), micros(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

const memberColumns = `m.workspace_id, w.name, m.user_id, u.email, u.name, m.role, m.created_at
	FROM members m JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id`

func scanMember(row scanner) (team.Member, error) {
	var m team.Member
	var role string
	var created int64
	err := row.Scan(&m.WorkspaceID, &m.WorkspaceName, &m.UserID, &m.Email, &m.Name, &role, &created)
	m.Role = team.Role(role)
	m.CreatedAt = fromMicros(created)
	return m, err
}

func (db *DB) member(ctx context.Context, q querier, workspaceID, userID string) (team.Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, db.q(`SELECT `+memberColumns+` WHERE m.workspace_id = ? AND m.user_id = ?`), workspaceID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, team.ErrMemberNotFound
	}
	return m, err
}

func (db *DB) members(ctx context.Context, where string, arg string) ([]team.Member, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+memberColumns+` WHERE `+where+` ORDER BY m.created_at, m.workspace_id, m.user_id`), arg)
	return collect(rows, err, scanMember)
}

// Member returns one membership, or team.ErrMemberNotFound.
func (db *DB) Member(ctx context.Context, workspaceID, userID string) (_ team.Member, err error) {
	defer wrapErr(&err, "member")
	return db.member(ctx, db.read, workspaceID, userID)
}

// Members returns a workspace's members, oldest membership first.
func (db *DB) Members(ctx context.Context, workspaceID string) (_ []team.Member, err error) {
	defer wrapErr(&err, "members")
	return db.members(ctx, `m.workspace_id = ?`, workspaceID)
}

// Memberships returns a user's memberships, oldest first.
func (db *DB) Memberships(ctx context.Context, userID string) (_ []team.Member, err error) {
	defer wrapErr(&err, "memberships")
	return db.members(ctx, `m.user_id = ?`, userID)
}

// lockWorkspace serialises membership changes of one workspace: on PostgreSQL it locks
// the workspace row; on SQLite the write transaction already holds the database lock.
// It returns false when the workspace does not exist.
func (db *DB) lockWorkspace(ctx context.Context, tx *sql.Tx, workspaceID string) (bool, error) {
	query := `SELECT id FROM workspaces WHERE id = ?`
	if db.dialect == Postgres {
		query += ` FOR UPDATE`
	}
	var id string
	err := tx.QueryRowContext(ctx, db.q(query), workspaceID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// AddMember stores a membership and returns it with the user's email and name.
func (db *DB) AddMember(ctx context.Context, m team.Member) (_ team.Member, err error) {
	defer wrapErr(&err, "add member")
	var out team.Member
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM users WHERE id = ?`), m.UserID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return team.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		if ok, err := db.lockWorkspace(ctx, tx, m.WorkspaceID); err != nil {
			return err
		} else if !ok {
			return errWorkspaceNotFound
		}
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO members (workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id, user_id) DO NOTHING`),
			m.WorkspaceID, m.UserID, string(m.Role), micros(m.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return team.ErrAlreadyMember
		}
		out, err = db.member(ctx, tx, m.WorkspaceID, m.UserID)
		return err
	})
	return out, err
}

// guardOwner locks the workspace, checks that userID is a member (team.ErrMemberNotFound)
// and refuses with team.ErrLastOwner when they are its only owner and would stop being one.
func (db *DB) guardOwner(ctx context.Context, tx *sql.Tx, workspaceID, userID string, stillOwner bool) error {
	if ok, err := db.lockWorkspace(ctx, tx, workspaceID); err != nil {
		return err
	} else if !ok {
		return team.ErrMemberNotFound
	}
	var role string
	err := tx.QueryRowContext(ctx, db.q(`SELECT role FROM members WHERE workspace_id = ? AND user_id = ?`), workspaceID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return team.ErrMemberNotFound
	}
	if err != nil {
		return err
	}
	if team.Role(role) != team.RoleOwner || stillOwner {
		return nil
	}
	var owners int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM members WHERE workspace_id = ? AND role = 'owner'`), workspaceID).Scan(&owners); err != nil {
		return err
	}
	if owners <= 1 {
		return team.ErrLastOwner
	}
	return nil
}

// SetRole changes a member's role, keeping at least one owner.
func (db *DB) SetRole(ctx context.Context, workspaceID, userID string, role team.Role) (_ team.Member, err error) {
	defer wrapErr(&err, "set role")
	var out team.Member
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.guardOwner(ctx, tx, workspaceID, userID, role == team.RoleOwner); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE members SET role = ? WHERE workspace_id = ? AND user_id = ?`), string(role), workspaceID, userID); err != nil {
			return err
		}
		var err error
		out, err = db.member(ctx, tx, workspaceID, userID)
		return err
	})
	return out, err
}

// RemoveMember deletes a membership and revokes the member's keys of that workspace in
// one transaction, keeping at least one owner. It returns the ids of the keys it revoked.
func (db *DB) RemoveMember(ctx context.Context, workspaceID, userID string, at time.Time) (_ []string, err error) {
	defer wrapErr(&err, "remove member")
	var revoked []string
	err = db.tx(ctx, func(tx *sql.Tx) error {
		revoked = nil
		if err := db.guardOwner(ctx, tx, workspaceID, userID, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM members WHERE workspace_id = ? AND user_id = ?`), workspaceID, userID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND member_id = ? AND revoked_at IS NULL RETURNING id`),
			micros(at), workspaceID, userID)
		revoked, err = collect(rows, err, scanString)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(revoked)
	return revoked, nil
}

// CompleteSetup creates the first user, their workspace and their ownership of it, and
// consumes the setup token, in one transaction. Deleting the token row first is the
// guard: of two concurrent setups, the second waits on that row and then finds it gone.
func (db *DB) CompleteSetup(ctx context.Context, setupTokenHash string, u team.User, passwordHash string, w team.Workspace) (err error) {
	defer wrapErr(&err, "complete setup")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM settings WHERE name = ? AND value = ?`), team.SetupTokenSetting, setupTokenHash)
		if err != nil {
			return err
		}
		consumed, _ := res.RowsAffected()
		var users int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) u`).Scan(&users); err != nil {
			return err
		}
		if users > 0 {
			return team.ErrSetupDone
		}
		if consumed == 0 {
			return team.ErrInvalidSetupToken
		}
		if err := insertUser(ctx, db, tx, u, passwordHash); err != nil {
			return err
		}
		if err := db.insertWorkspace(ctx, tx, w); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO members (workspace_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)`),
			w.ID, u.ID, micros(u.CreatedAt))
		return err
	})
}

// insertWorkspace writes a workspace and its wallet, as CreateWorkspace does (kept
// separate so that setup can do it inside its own transaction).
func (db *DB) insertWorkspace(ctx context.Context, tx *sql.Tx, w team.Workspace) error {
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workspaces (id, name, timezone, created_at) VALUES (?, ?, ?, ?)`),
		w.ID, w.Name, w.Timezone, micros(w.CreatedAt)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO accounts (id, workspace_id, kind, overdraft_limit, created_at) VALUES (?, ?, 'wallet', ?, ?)`),
		string(ledger.Wallet(w.ID)), w.ID, int64(w.OverdraftLimit), micros(w.CreatedAt))
	return err
}
