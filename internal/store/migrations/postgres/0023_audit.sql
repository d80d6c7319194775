-- The operator's audit log (PostgreSQL): every operator action, append-only (internal/audit).
-- before_state and after_state are JSON objects of strings. An action with an
-- idempotency key is recorded once per key (a replay adds no entry). UPDATE and DELETE
-- are refused by a trigger: the store has no path for them either.
CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('console', 'api')),
    action          TEXT NOT NULL,
    workspace_id    TEXT NOT NULL DEFAULT '',
    target          TEXT NOT NULL DEFAULT '',
    before_state    TEXT NOT NULL DEFAULT '{}',
    after_state     TEXT NOT NULL DEFAULT '{}',
    idempotency_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
CREATE UNIQUE INDEX audit_log_once ON audit_log (action, idempotency_key) WHERE idempotency_key <> '';
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION spectra_immutable();

-- The console's deployment-wide figures (spend this month per workspace, activity per
-- day, top workspaces and models) read the daily rollups of every workspace by day.
CREATE INDEX rollups_daily_dim_by_day ON rollups_daily_dim (dim, day, workspace_id, value, cost, requests);
