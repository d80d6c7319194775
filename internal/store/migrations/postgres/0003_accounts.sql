-- Accounts (PostgreSQL): users who sign in to the dashboard, their memberships of workspaces
-- with a role, and server-side sessions. Times are Unix microseconds.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE, -- normalised: trimmed, lower case
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '', -- argon2id in PHC form; '' never matches
    operator      INTEGER NOT NULL DEFAULT 0 CHECK (operator IN (0, 1)),
    created_at    BIGINT NOT NULL
);

CREATE TABLE members (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'member', 'viewer')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- A session is stored by the SHA-256 of its token: the token itself lives only in the
-- browser's cookie.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Revoking a removed member's keys looks keys up by member.
CREATE INDEX api_keys_member ON api_keys (workspace_id, member_id);
