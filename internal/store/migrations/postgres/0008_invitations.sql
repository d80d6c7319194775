-- Invitations (PostgreSQL): an owner or admin invites an email to a workspace with a role. The
-- link carries the invitation id, its expiry and an HMAC over both (a server secret in
-- settings); only the SHA-256 of the whole token is stored. An invitation is open while
-- accepted_at and revoked_at are NULL and expires_at is in the future; accepting is one
-- guarded update of those columns, in the transaction that adds the member.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,  -- "inv_…"
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    email        TEXT NOT NULL,     -- normalised: trimmed, lower case
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'member', 'viewer')),
    token_hash   TEXT NOT NULL,
    invited_by   TEXT NOT NULL DEFAULT '', -- the inviting user's id; '' for the operator
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT,              -- the user who accepted
    revoked_at   BIGINT             -- revoked by hand, or replaced by a newer invitation
);
-- At most one unanswered invitation per email and workspace: inviting again replaces it.
CREATE UNIQUE INDEX invitations_open ON invitations (workspace_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_by_workspace ON invitations (workspace_id, created_at);
