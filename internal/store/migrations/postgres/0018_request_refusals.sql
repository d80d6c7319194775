-- Requests the gateway answered with an error (a 402 for the balance or a budget, a 403,
-- a 429, an upstream's error): the request log shows them, at no cost. They are not
-- usage: no rollup, wallet or ledger entry counts them. Written in batches off the
-- request path and bounded (internal/requestlog): kept 30 days, at most 100,000 per
-- workspace.
CREATE TABLE request_refusals (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    key_id       TEXT NOT NULL DEFAULT '',
    member       TEXT NOT NULL DEFAULT '',
    project      TEXT NOT NULL DEFAULT '',
    model        TEXT NOT NULL DEFAULT '',
    endpoint     TEXT NOT NULL DEFAULT '',
    upstream     TEXT NOT NULL DEFAULT '',
    status       INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('refused', 'upstream_error')),
    code         TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    budget_id    TEXT NOT NULL DEFAULT '',
    stream       INTEGER NOT NULL DEFAULT 0,
    latency_ms   BIGINT NOT NULL DEFAULT 0
);
-- The log reads a workspace's refusals newest first (the Overview counts their codes from
-- the same index) or slowest first, whole or by one filter; the pruner deletes by age.
CREATE INDEX request_refusals_log ON request_refusals (workspace_id, ts, id, code);
CREATE INDEX request_refusals_latency ON request_refusals (workspace_id, latency_ms, ts, id);
CREATE INDEX request_refusals_kind ON request_refusals (workspace_id, kind, ts, id);
CREATE INDEX request_refusals_key ON request_refusals (workspace_id, key_id, ts, id);
CREATE INDEX request_refusals_member ON request_refusals (workspace_id, member, ts, id);
CREATE INDEX request_refusals_project ON request_refusals (workspace_id, project, ts, id);
CREATE INDEX request_refusals_model ON request_refusals (workspace_id, model, ts, id);
CREATE INDEX request_refusals_age ON request_refusals (ts);
